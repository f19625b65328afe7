package server

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// conn is the state of one connection, attached to the gnet.Conn as its
// context: the session, the frame decoder and the output queued since the
// last flush. One allocation per connection; nothing else is held while the
// connection is idle (the output buffer is pooled and returned on flush).
type conn struct {
	session.Session
	sh *shard
	c  gnet.Conn

	dec codec.Decoder
	// The output queued since the last flush: either one shared
	// publication frame, written straight from the publication with no
	// copy (the common case of a fan-out), or a pooled buffer once more
	// than that is queued. pub is set only while out is nil.
	pub       *session.Publication
	out       *bytebufferpool.ByteBuffer
	peerClose *peerClose // the peer's close frame, once it arrived
	ctlEnd    int32      // bytes of out up to the end of its last control frame
	// progress is, until the request head is complete, the head bytes
	// already searched for its end; after the upgrade, the bytes the frame
	// in progress needs, when known. One field: the two never coexist.
	progress int32
	form     uint8 // wire form of publications (formRaw...)
	deflate  bool  // permessage-deflate negotiated
	failed   bool  // input is no longer read (protocol error, close sent)
	linger   bool  // answered: waiting for the peer to leave (lingerClose)
	shut     bool  // the write side is shut down
}

// peerClose is what the peer's close frame said. It is allocated when the
// frame arrives, so that idle connections do not carry room for it.
type peerClose struct {
	code   codec.StatusCode
	reason string
}

var _ session.Transport = (*conn)(nil)

// queue returns the output buffer, taking one from the pool if needed; a
// pending shared publication frame moves into it first, to keep the order.
func (c *conn) queue() *bytebufferpool.ByteBuffer {
	if c.out == nil {
		c.out = bytebufferpool.Get()
		if c.pub != nil {
			c.out.B = append(c.out.B, c.pubFrame()...)
			c.pub = nil
		}
	}
	return c.out
}

// queueControl appends a control frame with append and remembers where it
// ends: control frames survive a slow-consumer eviction.
func (c *conn) queueControl(append func([]byte) []byte) {
	buf := c.queue()
	buf.B = append(buf.B)
	c.ctlEnd = int32(len(buf.B))
}

// pubFrame returns the pending publication in this connection's wire form.
func (c *conn) pubFrame() []byte {
	return c.pub.Encoded(int(c.form), c.sh.srv.encoders[c.form])
}

// queued returns the bytes queued for the client and not yet written to
// its socket: ours since the last flush plus gnet's outbound buffer.
func (c *conn) queued() int {
	n := c.c.OutboundBuffered()
	switch {
	case c.out != nil:
		n += len(c.out.B)
	case c.pub != nil:
		n += len(c.pubFrame())
	}
	return n
}

// WriteMessage implements session.Transport: it encodes one data frame
// (compressed when negotiated and worth it) into the output queue, after
// applying the slow-consumer policy. Loop-only.
func (c *conn) WriteMessage(op codec.OpCode, payload []byte) error {
	queued, err := c.admit(len(payload))
	if err != nil {
		return err
	}
	buf := c.queue()
	before := len(buf.B)
	if c.deflate && len(payload) >= c.sh.srv.cfg.Compression.MinSize {
		buf.B = c.sh.deflater.AppendCompressedFrame(buf.B, op, payload)
	} else {
		buf.B = codec.AppendFrame(buf.B, op, payload)
	}
	c.sh.Stats().NoteOutbound(queued + len(buf.B) - before)
	return nil
}

// WritePublication implements session.Transport: the publication's frame in
// this connection's form is encoded once for all connections. Alone in the
// queue it is written from the shared bytes; behind other output it is
// copied, so that everything pending leaves in one write. Loop-only.
func (c *conn) WritePublication(p *session.Publication) error {
	frame := p.Encoded(int(c.form), c.sh.srv.encoders[c.form])
	queued, err := c.admit(len(frame))
	if err != nil {
		return err
	}
	if c.out == nil && c.pub == nil {
		c.pub = p
	} else {
		buf := c.queue()
		buf.B = append(buf.B, frame...)
	}
	c.sh.Stats().NoteOutbound(queued + len(frame))
	return nil
}

// admit applies the slow-consumer policy to n more bytes and returns what
// is queued for the client already.
func (c *conn) admit(n int) (int, error) {
	cfg := &c.sh.srv.cfg
	queued := c.queued()
	if queued+n <= cfg.MaxOutbound {
		return queued, nil
	}
	if cfg.SlowPolicy == SlowDrop {
		c.sh.Stats().Dropped.Add(1)
		return queued, ErrDropped
	}
	c.sh.Stats().Evicted(session.ReasonSlowConsumer)
	c.slowDisconnect()
	return queued, ErrSlowConsumer
}

// slowDisconnect drops the data queued for a client that does not read and
// closes it with 1008; control frames already queued (a pong, a close)
// stay. The close frame goes after what the kernel and gnet already hold,
// so the client may never see it; the close deadline then drops the
// connection.
func (c *conn) slowDisconnect() {
	c.pub = nil
	if c.out != nil {
		c.out.B = c.out.B[:c.ctlEnd]
	}
	c.Session.Close(codec.StatusPolicyViolation, "slow consumer")
}

// Flush implements session.Transport: the queued output leaves in one write.
// The queue is detached first: a failed write closes the connection inside
// gnet's Write, and OnClose must find nothing left to release. Loop-only.
func (c *conn) Flush() {
	switch {
	case c.pub != nil:
		frame := c.pubFrame()
		c.pub = nil
		// gnet copies what the socket does not take, so the shared
		// frame stays immutable.
		_, _ = c.c.Write(frame)
	case c.out != nil:
		out := c.out
		c.out, c.ctlEnd = nil, 0
		if len(out.B) > 0 {
			_, _ = c.c.Write(out.B)
		}
		bytebufferpool.Put(out)
	}
}

// Ping implements session.Transport. Loop-only.
func (c *conn) Ping() {
	c.queueControl(func(b []byte) []byte { return codec.AppendHeader(b, codec.OpPing, true, 0) })
}

// Close implements session.Transport: it queues a close frame. Loop-only.
func (c *conn) Close(code codec.StatusCode, reason string) {
	c.queueControl(func(b []byte) []byte { return codec.AppendClose(b, code, reason) })
}

// Abort implements session.Transport: the connection is dropped, after a
// best-effort write of what is queued. Loop-only.
func (c *conn) Abort() {
	c.failed = true
	c.Flush()
	_ = c.c.Close()
}

// lingerClose ends a connection whose last answer (an HTTP error, a close
// frame) is queued: input is no longer read, the answer is written, and
// once it has left the write side is shut down, so the peer reads the
// answer and then an orderly end of stream. Input that keeps arriving is
// discarded (OnTraffic) until the peer closes or the close deadline drops
// the connection (Session.Linger). Closing at once instead would make the
// kernel answer the peer's unread bytes with a reset, which can destroy the
// answer before the peer has read it (net/http and nginx linger the same
// way). Loop-only.
func (c *conn) lingerClose() {
	c.failed, c.linger = true, true
	c.Flush()
	c.Linger()
	c.shutdownWrite()
}

// shutdownWrite shuts down the write side of a lingering connection once
// gnet's outbound buffer has drained; until then it is tried again on every
// arrival of input, and the close deadline bounds the wait. Loop-only.
func (c *conn) shutdownWrite() {
	// A closed connection's descriptor may already belong to a new client.
	if !c.linger || c.shut || c.State() == session.StateClosed || c.c.OutboundBuffered() > 0 {
		return
	}
	c.shut = true
	if err := unix.Shutdown(c.c.Fd(), unix.SHUT_WR); err != nil {
		_ = c.c.Close()
	}
}

// respond answers a request that will not be served with an HTTP response
// and ends the connection with a lingering close.
func (c *conn) respond(status int, extra, body string) {
	buf := c.queue()
	buf.B = codec.AppendResponse(buf.B, status, extra, body)
	c.lingerClose()
}

// respondPage answers with a static page and ends the connection with a
// lingering close.
func (c *conn) respondPage(p Page) {
	buf := c.queue()
	body := p.Body
	if p.Render != nil {
		body = p.Render()
	}
	buf.B = codec.AppendPage(buf.B, p.ContentType, body)
	c.lingerClose()
}

// fail answers a protocol violation: a close frame with the violation's code
// and reason, then the end of the connection (RFC 6455 section 7.1.7), with
// a lingering close so that the peer, which may still be sending the frame
// that broke the rules, reads the close frame.
func (c *conn) fail(err error) {
	code, reason := codec.StatusProtocolError, "protocol error"
	if pe, ok := err.(*codec.ProtocolError); ok {
		code, reason = pe.Code, pe.Reason
	}
	if code == codec.StatusMessageTooBig {
		c.sh.Stats().Evicted(session.ReasonTooBig)
	} else {
		c.sh.Stats().Evicted(session.ReasonProtocolError)
	}
	c.Close(code, reason)
	c.MarkClosing()
	c.lingerClose()
}
