package poller

import (
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
	// AppendCursor appends the session's cursor: its position in each of
	// its topics (session.Session.Positions, codec.AppendCursor), and the
	// positions of extra for the topics it has not subscribed yet.
	AppendCursor(dst []byte, extra []codec.Position) []byte
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
	// WritePublication queues publication p, whose shared encoding is
	// frame: its JSON envelope, or for an SSE stream the envelope as an
	// SSE data line (codec.AppendSSEData).
	WritePublication(out Output, p *session.Publication, frame []byte) error
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
	// resume, while it subscribes them one after the other (Resuming);
	// nil once they are subscribed, so an idle stream holds only the
	// pointer.
	resuming *[]codec.Position
}

// Resuming says which positions the stream is about to resume, topic by
// topic, until it is called again with nil. Meanwhile the SSE ids name
// them too: a client that drops during the first topic's replay hands back
// an id that still names the topics the stream had not reached. Loop-only.
func (s *Stream) Resuming(ps []codec.Position) {
	if ps == nil {
		s.resuming = nil
		return
	}
	s.resuming = &ps
}

// appendCursor appends the SSE id: the session's cursor, with the
// positions the stream is about to resume.
func (s *Stream) appendCursor(out Output, dst []byte) []byte {
	if s.resuming == nil {
		return out.AppendCursor(dst, nil)
	}
	return out.AppendCursor(dst, *s.resuming)
}

// NewStream returns the stream transport for params p. Safe for concurrent
// use.
func NewStream(p *Params) *Stream { return &Stream{kind: p.Kind, callback: p.Callback} }

// ContentType returns the stream's content type. Safe for concurrent use.
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
// open object with session id sid. SSE is sent close-delimited, without
// chunked framing: an event stream has its own, and an SSE event is then
// written with no length to compute (the id, a cursor, is known only as it
// is written). The other streams are chunked on HTTP/1.1. Loop-only.
func (s *Stream) Start(out Output, head *codec.ResponseHead, sid string) {
	// A stream is the last response on its connection: when it ends, the
	// connection closes (Close), and the head says so.
	head.ContentType, head.Length, head.Close = s.ContentType(), -1, true
	head.Extra += "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n"
	if s.kind == KindSSE {
		head.Minor = 0 // close-delimited: no Transfer-Encoding
	}
	s.chunked = head.Chunked()
	b := out.Own()
	*b = head.AppendHead(*b)
	switch s.kind {
	case KindSSE:
		*b = append(*b, SSERetry...)
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

// Framing of a JSON object in each kind of stream.
const (
	ssePrefix    = "data: "
	iframePrefix = "<script>parent."
	iframeSuffix = ");</script>\n"
	crlf         = "\r\n"
)

// sseIDOverhead bounds what an SSE event adds around its data besides the
// cursor: "data: ", "\nid: " and the blank line.
const sseIDOverhead = 16

// cursorEstimate is what a cursor is counted as against the slow-client
// cap before it is written: a few topics' worth.
const cursorEstimate = 64

// prefix appends what goes before a JSON object of n bytes: a chunk's
// size line (covering the object and its framing) and the kind's opening.
func (s *Stream) prefix(dst []byte, event string, n int) []byte {
	switch s.kind {
	case KindSSE:
		dst = codec.AppendSSEHead(dst, event)
		return append(dst, ssePrefix...)
	case KindMultipart:
		if s.chunked {
			dst = codec.AppendChunkHeader(dst, len(multipartHead)+n+len(multipartNext))
		}
		return append(dst, multipartHead...)
	case KindIframe:
		if s.chunked {
			dst = codec.AppendChunkHeader(dst, len(iframePrefix)+len(s.callback)+1+n+len(iframeSuffix))
		}
		dst = append(dst, iframePrefix...)
		dst = append(dst, s.callback...)
		return append(dst, '(')
	}
	if s.chunked {
		dst = codec.AppendChunkHeader(dst, n+1)
	}
	return dst
}

// suffix appends what goes after a JSON object: the kind's closing, an SSE
// event's id (the session's cursor, when withID) and the chunk's end.
func (s *Stream) suffix(out Output, dst []byte, withID bool) []byte {
	switch s.kind {
	case KindSSE:
		dst = append(dst, '\n')
		if withID {
			dst = append(dst, "id: "...)
			dst = s.appendCursor(out, dst)
			dst = append(dst, '\n')
		}
		return append(dst, '\n')
	case KindMultipart:
		dst = append(dst, multipartNext...)
	case KindIframe:
		dst = append(dst, iframeSuffix...)
	default:
		dst = append(dst, '\n')
	}
	if s.chunked {
		dst = append(dst, crlf...)
	}
	return dst
}

// overhead bounds the framing of one object, for the slow-client cap.
func (s *Stream) overhead() int {
	return chunkOverhead + len(multipartHead) + len(multipartNext) + len(iframePrefix) + len(s.callback) + len(iframeSuffix) + sseIDOverhead + cursorEstimate
}

// sseEvent names the SSE event of an object: its op, except for the two
// that would collide with EventSource's own names: open (EventSource fires
// its own "open" on connecting) and message (the default event, which
// publications use).
func sseEvent(op string) string {
	switch op {
	case codec.ObjOpen:
		return "session"
	case codec.ObjMessage:
		return "direct"
	}
	return op
}

// object queues one JSON object of the stream's own; an SSE event is named
// by op (sseEvent) and carries the session's cursor as its id when withID.
func (s *Stream) object(out Output, op string, obj []byte, withID bool) error {
	if err := out.Admit(len(obj) + s.overhead()); err != nil {
		return err
	}
	b := out.Own()
	*b = s.prefix(*b, sseEvent(op), len(obj))
	*b = append(*b, obj...)
	*b = s.suffix(out, *b, withID)
	return nil
}

// chunkOverhead bounds the chunk framing of one write (a size line of up
// to 8 hex digits and two CRLFs), for the slow-client policy.
const chunkOverhead = 12

// WritePublication implements Transport: the envelope is queued by
// reference between this stream's framing, written straight into the
// connection's own bytes (no allocation per delivery). For SSE, frame is
// the envelope already as a data line (SSEData), shared like the
// envelope, so that an event is that frame and its id line: the session's
// cursor, which now includes this publication. Loop-only.
func (s *Stream) WritePublication(out Output, p *session.Publication, frame []byte) error {
	if err := out.Admit(len(frame) + s.overhead()); err != nil {
		return err
	}
	if s.kind == KindSSE {
		out.Shared(p, frame)
		b := out.Own()
		if p.Topic != "" {
			*b = append(*b, "id: "...)
			*b = s.appendCursor(out, *b)
			*b = append(*b, '\n')
		}
		*b = append(*b, '\n')
		return nil
	}
	b := out.Own()
	*b = s.prefix(*b, "", len(frame))
	out.Shared(p, frame)
	b = out.Own()
	*b = s.suffix(out, *b, false)
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
	_ = s.object(out, op, codec.AppendStart(nil, op, topic, st.Epoch, st.From), true)
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
