package server

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
	"github.com/c1mhq/c1m/session"
)

// bodyReader is a /send request whose head was consumed and whose body is
// arriving: bounded by Config.MaxMessage, and in time by the handshake
// deadline, which still runs for the connection's session.
type bodyReader struct {
	kind    codec.BodyKind
	left    int64 // BodyLength: the body's length
	chunked codec.ChunkedDecoder
	data    []byte
	params  poller.Params
	head    codec.ResponseHead
	r       Request    // what OnConnect set (SetData, SetUser)
	limit   int64      // the body's limit: Config.MaxMessage, or Engine.IO's MaxPayload
	eio     *eioTarget // an Engine.IO post's session, nil for /send
}

// readSend takes a /send request whose head of n bytes is complete, and
// reads its body. Loop-only.
func (s *Server) readSend(c *conn, req *codec.Request, n int, p *poller.Params, head codec.ResponseHead, r *Request) {
	kind, length, err := req.Body()
	switch {
	case err != nil:
		c.respond(http.StatusBadRequest, corsLines(head), "bad body framing\n")
		return
	case kind == codec.BodyLength && length > s.cfg.MaxMessage:
		c.respond(http.StatusRequestEntityTooLarge, corsLines(head), "body over the limit\n")
		return
	}
	_, _ = c.c.Discard(n)
	c.extra().body = &bodyReader{kind: kind, left: length, params: *p, head: head,
		r: Request{data: r.data, user: r.user}, limit: s.cfg.MaxMessage}
	if kind != codec.BodyNone && bytes.EqualFold(req.Header("Expect"), []byte("100-continue")) && c.c.InboundBuffered() == 0 {
		// The client waits for this before it sends the body (curl
		// waits a second for it, then sends anyway).
		buf := c.queue()
		buf.B = append(buf.B, continueAnswer...)
		c.write()
	}
	s.readBody(c)
}

// continueAnswer is the interim answer to "Expect: 100-continue" (RFC 9110
// section 10.1.1): the body is welcome.
const continueAnswer = "HTTP/1.1 100 Continue\r\n\r\n"

// readBody reads what has arrived of a /send body and sends the message
// once it is complete. Loop-only.
func (s *Server) readBody(c *conn) {
	b := c.ext.body
	switch b.kind {
	case codec.BodyLength:
		if int64(c.c.InboundBuffered()) < b.left {
			return
		}
		data, _ := c.c.Next(int(b.left))
		b.data = append(b.data, data...)
	case codec.BodyChunked:
		buf, _ := c.c.Peek(-1)
		var n int
		var done bool
		var err error
		b.data, n, done, err = b.chunked.Decode(b.data, buf, int(b.limit))
		if n > 0 {
			// gnet's Discard(0) discards everything buffered.
			_, _ = c.c.Discard(n)
		}
		switch {
		case err == codec.ErrBodyTooLarge && b.eio != nil:
			s.eioTooLarge(c, b.head, b.eio)
			return
		case err == codec.ErrBodyTooLarge:
			c.respond(http.StatusRequestEntityTooLarge, corsLines(b.head), "body over the limit\n")
			return
		case err != nil:
			c.respond(http.StatusBadRequest, corsLines(b.head), "bad chunked body\n")
			return
		case !done:
			return
		}
	}
	c.ext.body = nil
	if b.eio != nil {
		s.eioData(c, b)
		return
	}
	c.sh.Stats().MessagesIn.Add(1)
	c.sh.Stats().BytesIn.Add(uint64(len(b.data)))
	if b.params.SID == "" {
		s.sendOneOff(c, b)
		return
	}
	s.sendToStream(c, b)
}

// message makes a Message of a /send body: text when it is UTF-8.
func message(data []byte) Message {
	op := codec.OpBinary
	if utf8.Valid(data) {
		op = codec.OpText
	}
	return Message{Op: op, Data: data}
}

// sendOneOff runs a /send body without a stream (a poll client's publish)
// on a session of its own, which lives for this request: what the handler
// sends back is the answer's body. Subscribing that way would be moot, so
// it is refused: a poll client subscribes with the next poll. Loop-only.
func (s *Server) sendOneOff(c *conn, b *bodyReader) {
	if cmd, err := codec.ParseCommand(b.data); err == nil && (cmd.Op == codec.OpSubscribe || cmd.Op == codec.OpUnsubscribe) {
		c.respondKeep(withStatus(b.head, http.StatusBadRequest), "application/json",
			codec.AppendReply(nil, cmd.ID, "without a stream, subscribe with topic= on the next poll"))
		return
	}
	b.params.Kind = poller.KindSend
	poll := poller.NewPoll(&b.params, b.head, s.cfg.PollMaxBytes)
	c.extra().tr = poll
	c.form = formJSON
	c.SetData(b.r.data)
	c.MarkOpen()
	if b.r.user != "" {
		c.SetUser(b.r.user)
	}
	s.dispatchOpen(c)
	s.dispatchMessage(c, message(b.data))
	if s.workers == nil {
		s.answerOneOff(c, poll)
		return
	}
	// On a worker the handler runs later, and may hand its work back to
	// the loop (Push does): the answer waits for both, behind the message
	// on its worker and then behind what the handler posted to the shard,
	// but no longer than a poll is held.
	sh := c.sh
	s.dispatch(c, func() {
		_ = sh.Post(func() {
			if c.State() == session.StateOpen && c.transport() == poller.Transport(poll) {
				s.answerOneOff(c, poll)
			}
		})
	})
	c.SetDeadline(s.cfg.PollTimeout)
}

// answerOneOff answers a one-off /send with what its handler sent, unless
// the handler is to reply later (connExt.awaitReply, Push's publish in a
// cluster, which waits for the bus off the loop): the reply then answers
// the request when it comes, or the poll's deadline does. Loop-only.
func (s *Server) answerOneOff(c *conn, poll *poller.Poll) {
	if c.ext.awaitReply {
		c.ext.awaitReply = false
		c.SetDeadline(s.cfg.PollTimeout)
		return
	}
	poll.Ready()
	c.Written()
}

// awaitReply tells the one-off /send that s serves, if it serves one,
// whether its handler will reply later, from another goroutine.
// Loop-only.
func awaitReply(s *Session, later bool) {
	if c, ok := s.machinery().Transport().(*conn); ok && c.ext != nil {
		if _, ok := c.ext.tr.(*poller.Poll); ok {
			c.ext.awaitReply = later
		}
	}
}

// withStatus returns head with another status.
func withStatus(head codec.ResponseHead, status int) codec.ResponseHead {
	head.Status = status
	return head
}

// newToken returns the secret half of a stream's session id. math/rand/v2's
// generator is ChaCha8 seeded from the operating system: not guessable.
func newToken() uint64 { return rand.Uint64() | 1 }

// formatSID returns a stream's session id: the session's id and the token,
// in base 36.
func formatSID(id, token uint64) string {
	return strconv.FormatUint(id, 36) + "." + strconv.FormatUint(token, 36)
}

// parseSID reverses formatSID.
func parseSID(sid string) (id, token uint64, ok bool) {
	a, b, found := strings.Cut(sid, ".")
	if !found {
		return 0, 0, false
	}
	id, err1 := strconv.ParseUint(a, 36, 64)
	token, err2 := strconv.ParseUint(b, 36, 64)
	return id, token, err1 == nil && err2 == nil && token != 0
}
