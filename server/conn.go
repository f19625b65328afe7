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
	srv *Server
	sh  *shard
	c   gnet.Conn

	dec      codec.Decoder
	out      *bytebufferpool.ByteBuffer // output queued since the last flush
	scanned  int32                      // request head bytes already searched for its end
	need     int32                      // bytes the frame in progress needs, when known
	deflate  bool                       // permessage-deflate negotiated
	form     int                        // wire form of publications (formRaw...)
	failed   bool                       // input is no longer read (protocol error, close sent)
	linger   bool                       // answered: waiting for the peer to leave (lingerClose)
	shut     bool                       // the write side is shut down
	gotClose bool                       // the peer's close frame arrived
	code     codec.StatusCode           // the peer's close code
	reason   string                     // the peer's close reason
}

var _ session.Transport = (*conn)(nil)

// queue returns the output buffer, taking one from the pool if needed.
func (c *conn) queue() *bytebufferpool.ByteBuffer {
	if c.out == nil {
		c.out = bytebufferpool.Get()
	}
	return c.out
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
	if c.deflate && len(payload) >= c.srv.cfg.Compression.MinSize {
		buf.B = c.sh.deflater.AppendCompressedFrame(buf.B, op, payload)
	} else {
		buf.B = codec.AppendFrame(buf.B, op, payload)
	}
	c.sh.Stats().NoteOutbound(queued + len(buf.B) - before)
	return nil
}

// WritePublication implements session.Transport: the publication's frame in
// this connection's form is encoded once for all connections and copied
// into the output queue. Loop-only.
func (c *conn) WritePublication(p *session.Publication) error {
	frame := p.Encoded(c.form, c.srv.encoders[c.form])
	queued, err := c.admit(len(frame))
	if err != nil {
		return err
	}
	buf := c.queue()
	buf.B = append(buf.B, frame...)
	c.sh.Stats().NoteOutbound(queued + len(frame))
	return nil
}

// admit applies the slow-consumer policy to n more bytes and returns what
// is queued for the client already.
func (c *conn) admit(n int) (int, error) {
	cfg := &c.srv.cfg
	queued := c.c.OutboundBuffered()
	if c.out != nil {
		queued += len(c.out.B)
	}
	if queued+n <= cfg.MaxOutbound {
		return queued, nil
	}
	c.sh.Stats().Evicted(session.ReasonSlowConsumer)
	if cfg.SlowPolicy == SlowDrop {
		return queued, ErrDropped
	}
	c.slowDisconnect()
	return queued, ErrSlowConsumer
}

// slowDisconnect drops what is queued for a client that does not read and
// closes it with 1008. The close frame goes after what the kernel and gnet
// already hold, so the client may never see it; the close deadline then
// drops the connection.
func (c *conn) slowDisconnect() {
	if c.out != nil {
		c.out.Reset()
	}
	c.Session.Close(codec.StatusPolicyViolation, "slow consumer")
}

// Flush implements session.Transport: the queued output leaves in one write.
// Loop-only.
func (c *conn) Flush() {
	if c.out == nil {
		return
	}
	if len(c.out.B) > 0 {
		// On a short write gnet copies the rest into its outbound buffer,
		// so the pooled buffer can go back at once.
		_, _ = c.c.Write(c.out.B)
	}
	bytebufferpool.Put(c.out)
	c.out = nil
}

// Ping implements session.Transport. Loop-only.
func (c *conn) Ping() {
	buf := c.queue()
	buf.B = codec.AppendHeader(buf.B, codec.OpPing, true, 0)
}

// Close implements session.Transport: it queues a close frame. Loop-only.
func (c *conn) Close(code codec.StatusCode, reason string) {
	buf := c.queue()
	buf.B = codec.AppendClose(buf.B, code, reason)
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
	if !c.linger || c.shut || c.c.OutboundBuffered() > 0 {
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
	c.code, c.reason = codec.StatusAbnormalClosure, ""
	c.Close(code, reason)
	c.MarkClosing()
	c.lingerClose()
}
