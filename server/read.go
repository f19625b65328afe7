package server

import (
	"bytes"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
	"github.com/c1mhq/c1m/session"
)

// partialPeekMax bounds how much of an incomplete frame is re-read on each
// arrival: gnet's Peek copies when its buffers wrap, so a huge frame
// trickling in is only looked at again once complete.
const partialPeekMax = 64 << 10

// retryAfterDelay is what a client that arrives while the server drains is
// told to wait before it retries (503 with Retry-After): by then this node
// is gone and the client's resolver or balancer points elsewhere.
const retryAfterDelay = 5 * time.Second

// retryAfter is the header line of the 503 answer while draining.
var retryAfter = "Retry-After: " + strconv.Itoa(int(retryAfterDelay/time.Second)) + "\r\n"

// readHead waits for a complete request head, routes it and, for a WebSocket
// upgrade, answers the handshake. The head is consumed; bytes pipelined after
// it stay in gnet's buffer for readFrames. Loop-only.
func (s *Server) readHead(c *conn) {
	if !c.proxyRead && s.cfg.ProxyProtocol != ProxyProtocolOff && !s.readProxyHeader(c) {
		return
	}
	buf, _ := c.c.Peek(-1)
	if c.progress == 0 && len(buf) > 0 && buf[0] == '<' {
		switch match, more := codec.IsPolicyRequest(buf); {
		case match:
			s.flashPolicy(c)
			return
		case more:
			return
		}
	}
	n, err := codec.HeadLen(buf, int(c.progress), s.cfg.MaxHead)
	switch {
	case err != nil:
		c.respond(http.StatusRequestHeaderFieldsTooLarge, "", "request head too large\n")
		return
	case n == 0:
		c.progress = int32(len(buf))
		return
	}
	head := buf[:n]
	req, err := codec.ParseRequest(head)
	if err != nil {
		c.respond(http.StatusBadRequest, "", "malformed request\n")
		return
	}
	if s.draining.Load() {
		// The listener stays open while the server drains, so that a
		// client arriving late is told to go elsewhere instead of being
		// dropped without a word.
		var eio *codec.Request
		if s.eio != nil && s.eio.matches(req.Path) {
			eio = &req
		}
		s.refuseLimit(c, eio, http.StatusServiceUnavailable, "", retryAfter, codec.EIOShuttingDown)
		return
	}
	if page, ok := s.cfg.Pages[string(req.Path)]; ok && string(req.Method) == http.MethodGet && !req.IsWebSocketUpgrade() {
		if !bodiless(&req) {
			c.respond(http.StatusBadRequest, "", "this request takes no body\n")
			return
		}
		c.respondKeep(s.httpHead(&req, http.StatusOK), page.ContentType, page.content())
		_, _ = c.c.Discard(n)
		c.progress = 0
		return
	}
	if s.eio != nil && s.eio.matches(req.Path) {
		c.progress = 0
		s.serveEIO(c, &req, n)
		return
	}
	if kind := poller.Route(req.Path); kind != poller.KindNone && !req.IsWebSocketUpgrade() {
		c.progress = 0
		s.serveHTTP(c, &req, n, kind)
		return
	}
	if s.cfg.Path != "*" && !bytes.Equal(req.Path, []byte(s.cfg.Path)) {
		c.respond(http.StatusNotFound, "", "not found\n")
		return
	}
	if !s.transportOn(poller.KindNone) {
		c.respond(http.StatusNotFound, "", "transport not offered\n")
		return
	}
	if !req.IsWebSocketUpgrade() {
		c.respond(http.StatusUpgradeRequired, codec.UpgradeRequiredHeaders, "this path speaks WebSocket\n")
		return
	}

	p, err := poller.ParseParams(poller.KindNone, req.RawQuery, nil, codec.MaxCursorTopics)
	if err != nil {
		c.respond(http.StatusBadRequest, "", "bad parameters\n")
		return
	}
	r := Request{req: &req, remote: clientAddr(s.cfg.TrustedProxies, s.cfg.ClientAddrHeader, c.peer(), &req), resumed: p.Resumed}
	if !s.admitIP(c, r.remote, "", nil) {
		return
	}
	out := c.queue()
	hs, err := c.sh.handshaker.Upgrade(head, out, func() error {
		if !s.originAllowed(&req) {
			return codec.Reject(http.StatusForbidden, "origin not allowed")
		}
		return s.connect(c, &r)
	})
	if err != nil {
		if codec.RejectStatus(err) == 0 && len(out.B) == 0 {
			out.B = codec.AppendResponse(out.B, http.StatusBadRequest, "", "bad handshake\n")
		}
		c.lingerClose()
		return
	}
	// The 101 answer is control output: an eviction before the first
	// flush must not cut it.
	c.ctlEnd = int32(len(out.B))
	_, _ = c.c.Discard(n)
	c.progress = 0
	c.form = formOf(hs)
	if hs.Deflate {
		c.deflate = true
		c.dec.Inflater = codec.NewInflater(hs.ClientWindow)
	}
	c.SetData(r.data)
	c.MarkOpen()
	if r.user != "" {
		c.SetUser(r.user)
	}
	for _, t := range r.topics {
		c.SubscribeFrom(t, p.Position(t))
	}
	c.Written()
	s.dispatchOpen(c)
}

// originAllowed applies Config.AllowedOrigins to the request's Origin.
func (s *Server) originAllowed(req *codec.Request) bool {
	if len(req.Header("Origin")) == 0 {
		return true
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		return sameOrigin(req)
	}
	h := string(bytes.ToLower(originHost(req)))
	for _, p := range s.cfg.AllowedOrigins {
		if ok, _ := path.Match(p, h); ok {
			return true
		}
	}
	return false
}

// originHost returns the host (and port) of the request's Origin: what
// follows its scheme.
func originHost(req *codec.Request) []byte {
	origin := req.Header("Origin")
	if i := bytes.Index(origin, []byte("://")); i >= 0 {
		origin = origin[i+3:]
	}
	return origin
}

// sameOrigin reports whether the request's Origin names its Host.
func sameOrigin(req *codec.Request) bool {
	return bytes.EqualFold(originHost(req), req.Header("Host"))
}

// readFrames decodes every complete frame in gnet's buffer and acts on it.
// A frame is consumed only when complete; one whose header announces too
// much is refused before its payload arrives. Loop-only.
func (s *Server) readFrames(c *conn) {
	defer c.dec.Recycle() // an idle connection keeps no message buffer
	defer s.pausedInput(c)
	for !c.failed && !c.paused {
		avail := c.c.InboundBuffered()
		if avail == 0 || (c.progress > 0 && avail < int(c.progress) && avail > partialPeekMax) {
			return
		}
		buf, _ := c.c.Peek(avail)
		f, n, err := c.dec.Decode(buf, &s.limits)
		if err != nil {
			c.fail(err)
			return
		}
		if n == 0 {
			c.progress = int32(f.Need)
			return
		}
		c.progress = 0
		c.Touch()
		s.frame(c, f)
		_, _ = c.c.Discard(n)
	}
}

// frame acts on one decoded frame. Loop-only.
func (s *Server) frame(c *conn, f codec.Frame) {
	st := c.sh.Stats()
	switch f.Op {
	case codec.OpText, codec.OpBinary:
		if c.State() != session.StateOpen {
			return // after our close frame, data is discarded (RFC 6455 1.4)
		}
		st.MessagesIn.Add(1)
		st.BytesIn.Add(uint64(len(f.Payload)))
		s.dispatchMessage(c, Message{Op: f.Op, Data: f.Payload})
	case codec.OpPing:
		if c.State() != session.StateOpen {
			return
		}
		// A pong is never dropped, but a client that pings and never
		// reads must not make us queue pongs without bound: past the
		// cap it is a slow consumer like any other.
		if c.queued()+codec.HeaderSize(len(f.Payload))+len(f.Payload) > s.cfg.MaxOutbound {
			c.slowDisconnect()
			c.Written()
			return
		}
		c.queueControl(func(b []byte) []byte { return codec.AppendFrame(b, codec.OpPong, f.Payload) })
		c.sh.Stats().NoteOutbound(c.queued())
		c.Written()
	case codec.OpClose:
		code, reason, _ := codec.ParseClose(f.Payload) // validated by the decoder
		c.extra().peer = &peerClose{code: code, reason: string(reason)}
		if c.State() == session.StateOpen {
			// Echo the code (RFC 6455 5.5.1), then close: the server closes
			// the TCP connection first.
			c.Close(code, "")
			c.MarkClosing()
		}
		c.failed = true // nothing after a close frame is read
		c.Abort()
	}
}

// dispatchOpen, dispatchMessage and dispatchClose call the handler on the
// loop or hand the event to the session's worker.
func (s *Server) dispatchOpen(c *conn) {
	h := s.handlerOf(c)
	if s.workers == nil {
		h.OnOpen(c.embedder())
		return
	}
	ss := c.embedder()
	s.dispatch(c, func() { h.OnOpen(ss) })
}

func (s *Server) dispatchMessage(c *conn, m Message) {
	h := s.handlerOf(c)
	if s.workers == nil {
		h.OnMessage(c.embedder(), m)
		return
	}
	// The handler owns its copy (Message.Data): it is never returned to a
	// pool, since the handler may keep it.
	data := append([]byte(nil), m.Data...)
	ss := c.embedder()
	s.dispatch(c, func() { h.OnMessage(ss, Message{Op: m.Op, Data: data}) })
}

func (s *Server) dispatchClose(c *conn, code codec.StatusCode, reason string) {
	h := s.handlerOf(c)
	if s.workers == nil {
		h.OnClose(c.embedder(), code, reason)
		return
	}
	ss := c.embedder()
	s.dispatchLast(c, func() { h.OnClose(ss, code, reason) })
}

// handlerOf returns the handler of c's session: the Engine.IO handler for
// a direct Engine.IO WebSocket (eio_direct.go), else the server's.
func (s *Server) handlerOf(c *conn) Handler {
	if c.eio != eioNone {
		return s.eio.Handler
	}
	return s.handler
}
