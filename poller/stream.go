package poller

import (
	"slices"
	"strings"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Output is the connection a transport writes to. The server implements it
// on its event loop; every method is Loop-only.
type Output interface {
	// Own returns the buffer of the connection's own bytes, to append to.
	Own() *[]byte
	// Shared queues frame, a publication's encoding shared by every
	// connection that uses it, after the own bytes so far, without copying
	// it.
	Shared(p *session.Publication, frame []byte)
	// Admit applies the slow-client policy to n more bytes: nil, or the
	// policy's error (the bytes must then not be queued).
	Admit(n int) error
	// Positions appends the session's position in each of its topics
	// (session.Session.Positions).
	Positions(dst []codec.Position) []codec.Position
	// End says the response is complete once what is queued is written:
	// with keepAlive the connection then reads its next request, else it
	// closes.
	End(keepAlive bool)
}

// Transport is an HTTP transport of one request, driven by the server on
// the connection's loop in place of WebSocket framing. Every method is
// Loop-only.
type Transport interface {
	// WriteMessage queues a message for this session alone.
	WriteMessage(out Output, op codec.OpCode, payload []byte) error
	// WritePublication queues publication p, whose JSON envelope (shared
	// by every HTTP connection) is envelope.
	WritePublication(out Output, p *session.Publication, envelope []byte) error
	// Subscribed tells the client where a subscription starts.
	Subscribed(out Output, topic string, st session.Start)
	// Ping sends a heartbeat, if the transport has one; no answer is due.
	Ping(out Output)
	// Close ends the response: a stream's last bytes, a poll's reply.
	Close(out Output)
	// Flush runs before the connection writes what is queued.
	Flush(out Output)
}

var (
	_ Transport = (*Stream)(nil)
	_ Transport = (*Poll)(nil)
)

// SSERetry is the reconnection delay an SSE stream asks browsers for.
const SSERetry = "retry: 2000\n\n"

// iframePadding is sent first by the forever iframe: some browsers render
// nothing, and run no script, before they have a kilobyte or more of the
// document.
var iframePadding = "<!--" + strings.Repeat(" ", 1024) + "-->\n"

// multipartBoundary separates the parts of a multipart stream.
const multipartBoundary = "c1m"

// The framing of a multipart stream. Each part is followed at once by the
// delimiter of the next, as the AJAX multipart streaming of old did: a
// reader knows a part is complete only when it sees the delimiter after
// it, and a part whose delimiter waited for the next publication would
// wait with it. The stream thus opens with a delimiter, and its end is an
// empty part (no header, no body) and the close delimiter.
const (
	multipartOpen  = "--" + multipartBoundary + "\r\n"
	multipartHead  = "Content-Type: application/json\r\n\r\n"
	multipartNext  = "\r\n--" + multipartBoundary + "\r\n"
	multipartClose = "\r\n\r\n--" + multipartBoundary + "--\r\n"
)

// Stream is an endless response: SSE, NDJSON, multipart or the forever
// iframe. It holds only what framing needs, so that an idle stream costs
// little more than an idle WebSocket.
type Stream struct {
	kind     Kind
	chunked  bool
	callback string // iframe
	// resuming are the positions of the topics the stream is about to
	// resume, while it subscribes them one after the other (Resuming).
	resuming []codec.Position
}

// NewStream returns the stream transport for params p. Safe for concurrent
// use.
func NewStream(p *Params) *Stream { return &Stream{kind: p.Kind, callback: p.Callback} }

// ContentType returns the stream's content type.
func (s *Stream) ContentType() string {
	switch s.kind {
	case KindSSE:
		return "text/event-stream; charset=utf-8"
	case KindMultipart:
		return "multipart/x-mixed-replace; boundary=" + multipartBoundary
	case KindIframe:
		return "text/html; charset=utf-8"
	}
	return "application/x-ndjson; charset=utf-8"
}

// Start queues the response head and the stream's first bytes, then its
// open object with session id sid. Loop-only.
func (s *Stream) Start(out Output, head *codec.ResponseHead, sid string) {
	// A stream is the last response on its connection: when it ends, the
	// connection closes (Close), and the head says so.
	head.ContentType, head.Length, head.Close = s.ContentType(), -1, true
	head.Extra += "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n"
	s.chunked = head.Chunked()
	b := out.Own()
	*b = head.AppendHead(*b)
	switch s.kind {
	case KindSSE:
		*b = s.chunk(*b, []byte(SSERetry))
	case KindMultipart:
		*b = s.chunk(*b, []byte(multipartOpen))
	case KindIframe:
		*b = s.chunk(*b, []byte("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>\n"+iframePadding))
	}
	s.object(out, codec.ObjOpen, codec.AppendOpen(nil, sid), false)
}

// chunk appends p as one chunk of a chunked body, or as is.
func (s *Stream) chunk(dst, p []byte) []byte {
	if s.chunked {
		return codec.AppendChunk(dst, p)
	}
	return append(dst, p...)
}

// frame returns the bytes before and after a JSON object in this stream
// (an SSE event's "data: " and its end, an NDJSON line's newline, a part's
// head, a script call), with id, an SSE event id, when set.
func (s *Stream) frame(event string, id []byte) (pre, post []byte) {
	switch s.kind {
	case KindSSE:
		pre = codec.AppendSSEHead(nil, event)
		pre = append(pre, "data: "...)
		post = codec.AppendSSETail([]byte("\n"), id)
	case KindMultipart:
		pre, post = []byte(multipartHead), []byte(multipartNext)
	case KindIframe:
		pre = []byte("<script>parent." + s.callback + "(")
		post = []byte(");</script>\n")
	default:
		post = []byte("\n")
	}
	return pre, post
}

// Resuming says which positions the stream is about to resume, topic by
// topic, until it is called again with nil. Meanwhile the SSE ids name
// them too: a client that drops during the first topic's replay hands back
// an id that still names the topics the stream had not reached. Loop-only.
func (s *Stream) Resuming(ps []codec.Position) { s.resuming = ps }

// cursor returns the session's positions as a cursor, for SSE ids, with
// those of the topics it is about to resume.
func (s *Stream) cursor(out Output) []byte {
	var buf [8]codec.Position
	ps := out.Positions(buf[:0])
	for _, r := range s.resuming {
		if !slices.ContainsFunc(ps, func(p codec.Position) bool { return p.Topic == r.Topic }) {
			ps = append(ps, r)
		}
	}
	return codec.AppendCursor(nil, ps)
}

// object queues one JSON object of the stream's own, with the session's
// cursor as its SSE id when withID.
func (s *Stream) object(out Output, op string, obj []byte, withID bool) error {
	event := ""
	var id []byte
	if s.kind == KindSSE {
		event = op
		if withID {
			id = s.cursor(out)
		}
	}
	pre, post := s.frame(event, id)
	n := len(pre) + len(obj) + len(post)
	if err := out.Admit(n + chunkOverhead); err != nil {
		return err
	}
	b := out.Own()
	if s.chunked {
		*b = codec.AppendChunkHeader(*b, n)
	}
	*b = append(append(append(*b, pre...), obj...), post...)
	if s.chunked {
		*b = append(*b, "\r\n"...)
	}
	return nil
}

// chunkOverhead bounds the chunk framing of one write (a size line of up
// to 8 hex digits and two CRLFs), for the slow-client policy.
const chunkOverhead = 12

// WritePublication implements Transport: the envelope is queued by
// reference between this stream's framing. Loop-only.
func (s *Stream) WritePublication(out Output, p *session.Publication, envelope []byte) error {
	var id []byte
	if s.kind == KindSSE && p.Topic != "" {
		id = s.cursor(out)
	}
	pre, post := s.frame("", id)
	n := len(pre) + len(envelope) + len(post)
	if err := out.Admit(n + chunkOverhead); err != nil {
		return err
	}
	b := out.Own()
	if s.chunked {
		*b = codec.AppendChunkHeader(*b, n)
	}
	*b = append(*b, pre...)
	out.Shared(p, envelope)
	b = out.Own()
	*b = append(*b, post...)
	if s.chunked {
		*b = append(*b, "\r\n"...)
	}
	return nil
}

// WriteMessage implements Transport: a message object. Loop-only.
func (s *Stream) WriteMessage(out Output, _ codec.OpCode, payload []byte) error {
	return s.object(out, codec.ObjMessage, codec.AppendMessageObject(nil, payload), false)
}

// Subscribed implements Transport: a subscribed or reset object, with the
// cursor that now includes the topic. Loop-only.
func (s *Stream) Subscribed(out Output, topic string, st session.Start) {
	op := codec.ObjSubscribed
	if st.Reset {
		op = codec.ObjReset
	}
	_ = s.object(out, op, codec.AppendStart(nil, op, topic, st.Epoch, st.Offset), true)
}

// Ping implements Transport: a heartbeat that the client ignores. Loop-only.
func (s *Stream) Ping(out Output) {
	var beat string
	switch s.kind {
	case KindSSE:
		beat = codec.SSEHeartbeat
	case KindIframe:
		beat = "<!---->\n"
	default:
		_ = s.object(out, codec.ObjPing, []byte(codec.PingObject), false)
		return
	}
	if out.Admit(len(beat)+chunkOverhead) == nil {
		b := out.Own()
		*b = s.chunk(*b, []byte(beat))
	}
}

// Close implements Transport: the stream's last bytes, then the end of the
// connection (a client reconnects, with its position). Loop-only.
func (s *Stream) Close(out Output) {
	b := out.Own()
	switch s.kind {
	case KindIframe:
		*b = s.chunk(*b, []byte("</body></html>\n"))
	case KindMultipart:
		*b = s.chunk(*b, []byte(multipartClose))
	}
	if s.chunked {
		*b = append(*b, codec.LastChunk...)
	}
	out.End(false)
}

// Flush implements Transport; a stream has nothing to add. Loop-only.
func (s *Stream) Flush(Output) {}
