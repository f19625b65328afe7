package server

import (
	"github.com/panjf2000/gnet/v2"
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
	// The output queued since the last flush (output.go): one shared
	// publication frame, written straight from the publication (the
	// common case of a fan-out), or a pooled queue once more than that is
	// pending. pub is set only while q is nil.
	pub    *session.Publication
	q      *outQueue
	ext    *connExt // what only some connections need (http.go)
	ctlEnd int32    // bytes of q's own output up to the end of its last control frame
	// progress is, until the request head is complete, the head bytes
	// already searched for its end; after the upgrade, the bytes the frame
	// in progress needs, when known. One field: the two never coexist.
	progress int32
	form     uint8 // wire form of publications (formRaw...)
	deflate  bool  // permessage-deflate negotiated
	failed   bool  // input is no longer read (protocol error, close sent)
	linger   bool  // answered: waiting for the peer to leave (lingerClose)
	shut     bool  // the write side is shut down
	paused   bool  // input is not decoded until its worker has room (pause.go)
	// proxyRead: the PROXY protocol header, if Config.ProxyProtocol wants
	// one, is read (proxyproto.go).
	proxyRead bool
	// eio: the connection's own session is an Engine.IO session on its
	// WebSocket (eioNone when not; eio_direct.go), and where it is in its
	// end.
	eio uint8
}

// peerClose is what the peer's close frame said. It is allocated when the
// frame arrives, so that idle connections do not carry room for it.
type peerClose struct {
	code   codec.StatusCode
	reason string
}

var _ session.Transport = (*conn)(nil)

// embedder returns the connection's session as a Handler sees it: the same
// memory under the embedding type, so the conversion allocates nothing.
func (c *conn) embedder() *Session { return (*Session)(&c.Session) }

// Ping implements session.Transport. Loop-only.
func (c *conn) Ping() bool {
	if tr := c.transport(); tr != nil {
		tr.Ping(c)
		return false
	}
	c.queueControl(func(b []byte) []byte { return codec.AppendHeader(b, codec.OpPing, true, 0) })
	return true
}

// Subscribed implements session.Transport: an envelope client is told
// where each subscription starts (the offset after which publications
// reach it: the resumed position, whose replay follows); a raw client,
// which sees no offsets, only when its position was reset. Loop-only.
func (c *conn) Subscribed(topic string, st session.Start) {
	if tr := c.transport(); tr != nil {
		tr.Subscribed(c, topic, st)
		return
	}
	envelope := c.form == formEnvelope || c.form == formEnvelopeDeflate
	if !envelope && !st.Reset {
		return
	}
	op := codec.ObjSubscribed
	if st.Reset {
		op = codec.ObjReset
	}
	// From: what history replays (after From) follows this message.
	_ = c.WriteMessage(codec.OpText, codec.AppendStart(nil, op, topic, st.Epoch, st.From))
}

// Close implements session.Transport: it queues a close frame, or ends an
// HTTP transport's response. Loop-only.
func (c *conn) Close(code codec.StatusCode, reason string) {
	if tr := c.transport(); tr != nil {
		tr.Close(c)
		return
	}
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

// content returns the page's body.
func (p Page) content() []byte {
	if p.Render != nil {
		return p.Render()
	}
	return p.Body
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
	if c.State() == session.StateOpen {
		c.Close(code, reason) // once closing, our close frame already went
	}
	c.MarkClosing()
	c.lingerClose()
}
