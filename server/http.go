package server

import (
	"bytes"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
	"github.com/c1mhq/c1m/session"
)

// connExt is what only some connections need, allocated when they need
// it, so that an idle WebSocket carries one nil pointer for all of it: the
// peer's close frame, or the HTTP transport of the request being served.
type connExt struct {
	peer *peerClose       // the peer's close frame, once it arrived (WebSocket)
	tr   poller.Transport // the HTTP transport being served, or nil
	// A response ended (Output.End): once what is queued is written, the
	// session ends and, with keepAlive, a new one reads the next request.
	ended, keepAlive bool
	busy             bool   // a /send waits for another loop: no request is read meanwhile
	awaitReply       bool   // a one-off /send's handler will reply later (Push's publish in a cluster)
	token            uint64 // the secret half of a stream's session id
	body             *bodyReader
	client           net.Addr   // the client a PROXY protocol header named (proxyproto.go)
	eio              *eioWaiter // an Engine.IO request waiting for its session (eio_poll.go)
	end              *eioEnd    // why a direct Engine.IO WebSocket closes, until its OnClose (eio_direct.go)
}

// extra returns the connection's connExt, allocating it.
func (c *conn) extra() *connExt {
	if c.ext == nil {
		c.ext = &connExt{}
	}
	return c.ext
}

// transport returns the HTTP transport being served, or nil.
func (c *conn) transport() poller.Transport {
	if c.ext == nil {
		return nil
	}
	return c.ext.tr
}

// The connection is the poller.Output of its HTTP transport.
var _ poller.Output = (*conn)(nil)

// Own implements poller.Output. Loop-only.
func (c *conn) Own() *[]byte { return &c.queue().B }

// Shared implements poller.Output: frame is queued by reference, after the
// own bytes so far. Loop-only.
func (c *conn) Shared(p *session.Publication, frame []byte) {
	buf := c.queue()
	if len(c.q.shared) < maxShared {
		c.q.shared = append(c.q.shared, sharedFrame{p: p, at: int32(len(buf.B))})
		c.q.sharedBytes += len(frame)
		return
	}
	buf.B = append(buf.B, frame...)
}

// Admit implements poller.Output with the connection's slow-client policy.
// Loop-only.
func (c *conn) Admit(n int) error {
	if c.failed {
		return session.ErrClosed
	}
	queued, err := c.admit(n)
	if err == nil {
		c.sh.Stats().NoteOutbound(queued + n)
	}
	return err
}

// End implements poller.Output: the response is complete; the connection
// flush that follows ends the session (endResponse). Loop-only.
func (c *conn) End(keepAlive bool) {
	x := c.extra()
	x.ended, x.keepAlive = true, keepAlive
	c.Written()
}

// endResponse runs after the flush that wrote a complete response: the
// request's session ends and, on a connection kept alive, a new one waits
// for the next request (pipelined ones are read at once). The new session
// is a new conn, the gnet connection's context from then on: the handler
// may still hold the old one (a worker that has yet to run its OnOpen or
// OnClose), which must stay the session it was, not become the next
// request's. Loop-only.
func (c *conn) endResponse() {
	x := c.ext
	x.ended, x.tr = false, nil
	if c.State() == session.StateClosed {
		return // the write failed and closed the connection
	}
	if !x.keepAlive {
		// A session that never opened (a page, a preflight, a /send
		// answer) is not closing: it only lingers, and its end counts no
		// session and calls no OnClose.
		if c.State() == session.StateOpen {
			c.MarkClosing()
		}
		c.lingerClose()
		return
	}
	s := c.sh.srv
	if st := c.State(); st == session.StateOpen || st == session.StateClosing {
		s.dispatchClose(c, codec.StatusNormalClosure, "")
	}
	s.releaseSlots(c)
	c.sh.Closed(&c.Session)
	next := &conn{sh: c.sh, c: c.c, proxyRead: c.proxyRead}
	if x.client != nil {
		next.extra().client = x.client // the connection's, not the request's
	}
	c.sh.Open(&next.Session, next)
	c.c.SetContext(next)
	if c.c.InboundBuffered() > 0 {
		_ = c.c.Wake(nil) // a pipelined request waits in the buffer
	}
}

// httpHead returns the head of a response to req that keeps the
// connection open when the request allows it, with the CORS origin echoed
// when the request came from another origin that Config.AllowedOrigins
// allows.
func (s *Server) httpHead(req *codec.Request, status int) codec.ResponseHead {
	h := codec.ResponseHead{Status: status, Minor: req.Minor, Close: !req.KeepAlive()}
	if o := req.Header("Origin"); len(o) > 0 && !sameOrigin(req) && s.originAllowed(req) {
		h.Origin = bytes.Clone(o)
	}
	return h
}

// respondKeep answers a request with a complete response and keeps the
// connection for the next one when the request allows it.
func (c *conn) respondKeep(head codec.ResponseHead, contentType string, body []byte) {
	head.ContentType, head.Length = contentType, len(body)
	buf := c.queue()
	buf.B = head.AppendHead(buf.B)
	buf.B = append(buf.B, body...)
	x := c.extra()
	x.ended, x.keepAlive = true, !head.Close
	c.Written()
}

// respondClose answers with head and body, then ends the connection with
// a lingering close: whatever the client still sends (a body left
// unread) is not taken for a next request. Loop-only.
func (c *conn) respondClose(head codec.ResponseHead, contentType string, body []byte) {
	head.Close = true
	head.ContentType, head.Length = contentType, len(body)
	buf := c.queue()
	buf.B = head.AppendHead(buf.B)
	buf.B = append(buf.B, body...)
	c.lingerClose()
}

// serveHTTP serves a request for one of the HTTP transports (kind), whose
// head of n bytes is complete: it is answered, opens a stream or a poll, or
// waits for its body (/send). Loop-only.
func (s *Server) serveHTTP(c *conn, req *codec.Request, n int, kind poller.Kind) {
	if !s.transportOn(kind) {
		c.respond(http.StatusNotFound, "", "transport not offered\n")
		return
	}
	if o := req.Header("Origin"); len(o) > 0 && !s.originAllowed(req) {
		c.respond(http.StatusForbidden, "", "origin not allowed\n")
		return
	}
	// An allowed page from another origin reads the error answers too
	// (a 400 for its cursor, a 413 for its body), not only a network
	// error.
	cors := corsLines(s.httpHead(req, 0))
	if kind != poller.KindSend && !bodiless(req) {
		c.respond(http.StatusBadRequest, cors, "this request takes no body\n")
		return
	}
	method := string(req.Method)
	if method == http.MethodOptions {
		head := s.httpHead(req, http.StatusNoContent)
		head.Extra = codec.PreflightHeaders
		c.respondKeep(head, "", nil)
		_, _ = c.c.Discard(n)
		return
	}
	want := http.MethodGet
	if kind == poller.KindSend {
		want = http.MethodPost
	}
	if method != want && !(method == http.MethodHead && want == http.MethodGet) {
		c.respond(http.StatusMethodNotAllowed, cors+"Allow: "+want+", OPTIONS\r\n", "method not allowed\n")
		return
	}
	p, err := poller.ParseParams(kind, req.RawQuery, req.Header("Last-Event-ID"), codec.MaxCursorTopics)
	switch {
	case err == poller.ErrBadCallback:
		c.respond(http.StatusBadRequest, cors, "bad callback name\n")
		return
	case err != nil:
		c.respond(http.StatusBadRequest, cors, "bad parameters\n")
		return
	case p.Kind == poller.KindPoll && p.Callback != "" && !s.cfg.JSONP:
		c.respond(http.StatusForbidden, cors, "JSONP is off on this server\n")
		return
	}
	if method == http.MethodHead {
		head := s.httpHead(req, http.StatusOK)
		head.Length = 0
		c.respondKeep(head, "", nil)
		_, _ = c.c.Discard(n)
		return
	}
	r := Request{req: req, remote: clientAddr(s.cfg.TrustedProxies, s.cfg.ClientAddrHeader, c.peer(), req), resumed: p.Resumed}
	if !s.admitIP(c, r.remote, cors, nil) {
		return
	}
	if p.Kind == poller.KindPoll && !s.admitPoll(c, r.remote, cors, nil) {
		return
	}
	if err := s.connect(c, &r); err != nil {
		status := codec.RejectStatus(err)
		if status == 0 {
			status = http.StatusForbidden
		}
		c.respond(status, cors+codec.RejectHeader(err), err.Error()+"\n")
		return
	}
	head := s.httpHead(req, http.StatusOK)
	if kind == poller.KindSend {
		s.readSend(c, req, n, &p, head, &r)
		return
	}
	_, _ = c.c.Discard(n)
	s.open(c, &p, head, &r)
}

// corsLines returns the CORS header lines of head, whose Origin is set
// for an allowed request from another origin, or "".
func corsLines(head codec.ResponseHead) string {
	if len(head.Origin) == 0 {
		return ""
	}
	return string(codec.AppendCORS(nil, head.Origin))
}

// bodiless reports whether a request that takes no body (all but /send)
// comes without one. One that has a body is refused rather than read past:
// a request left in the body would otherwise be answered as the next one,
// one response too many for the connection, which a proxy that reuses it
// would hand to the next request, another client's.
func bodiless(req *codec.Request) bool {
	kind, _, err := req.Body()
	return err == nil && kind == codec.BodyNone
}

// open starts a stream or a poll: the session opens, subscribes to what
// the handler allowed from where the client stood, and the handler's
// OnOpen runs. Loop-only.
func (s *Server) open(c *conn, p *poller.Params, head codec.ResponseHead, r *Request) {
	x := c.extra()
	c.form = formJSON
	if p.Kind == poller.KindSSE {
		c.form = formSSE
	}
	c.SetData(r.data)
	c.MarkOpen()
	var poll *poller.Poll
	var stream *poller.Stream
	if p.Kind == poller.KindPoll {
		poll = poller.NewPoll(p, head, s.cfg.PollMaxBytes)
		x.tr = poll
	} else {
		stream = poller.NewStream(p)
		x.tr = stream
		x.token = newToken()
		stream.Start(c, &head, formatSID(c.ID(), x.token))
	}
	if r.user != "" {
		c.SetUser(r.user)
	}
	if stream != nil {
		var resuming []codec.Position
		for _, t := range r.topics {
			if pos := p.Position(t); pos != nil {
				resuming = append(resuming, *pos)
			}
		}
		stream.Resuming(resuming)
	}
	for _, t := range r.topics {
		c.SubscribeFrom(t, p.Position(t))
	}
	if stream != nil {
		stream.Resuming(nil)
	}
	if poll != nil {
		switch {
		case p.Wait == 0:
			poll.Ready()
		case p.Wait > 0:
			c.SetDeadline(p.Wait)
		default:
			c.SetDeadline(s.cfg.PollTimeout)
		}
	}
	c.Written()
	s.dispatchOpen(c)
}

// transportOn reports whether the server offers transport kind
// (Config.Transports).
func (s *Server) transportOn(kind poller.Kind) bool {
	if len(s.cfg.Transports) == 0 {
		return true
	}
	name := transportName(kind)
	for _, t := range s.cfg.Transports {
		if t == name || (kind == poller.KindSend && t != TransportWebSocket) {
			// /send serves whichever HTTP transport is on.
			return true
		}
	}
	return false
}

// transportName names a transport in Config.Transports; KindNone is
// WebSocket.
func transportName(kind poller.Kind) string {
	switch kind {
	case poller.KindNone:
		return TransportWebSocket
	case poller.KindSSE:
		return TransportSSE
	case poller.KindNDJSON, poller.KindMultipart:
		return TransportStream
	case poller.KindIframe:
		return TransportIframe
	case poller.KindPoll:
		return TransportPoll
	}
	return ""
}

// flashPolicy answers the Flash socket policy request with the configured
// policy, then closes the connection as Flash expects. Loop-only.
func (s *Server) flashPolicy(c *conn) {
	domains, ports := []string{"*"}, ""
	if fp := s.cfg.FlashPolicy; fp != nil {
		if len(fp.Domains) > 0 {
			domains = fp.Domains
		}
		ports = fp.Ports
	}
	if ports == "" && s.bound != nil { // set by OnBoot, before the loops run
		ports = strconv.Itoa(s.bound.Port)
	}
	buf := c.queue()
	buf.B = codec.AppendPolicy(buf.B, domains, ports)
	c.lingerClose()
}

// readRequests reads the requests buffered on a connection that waits for
// one: a request head, then a /send body; a response that is complete at
// once (a page, a preflight, a poll with data) is written before the next
// pipelined request is read, so that responses leave in order. It returns
// the connection's conn, which a complete response replaces
// (endResponse). Loop-only.
func (s *Server) readRequests(c *conn) *conn {
	for c.State() == session.StateHandshake && !c.failed {
		x := c.ext
		if c.link() != nil {
			return c // a relay reads frames
		}
		if x != nil && (x.busy || x.ended) {
			if x.busy && c.c.InboundBuffered() > s.cfg.MaxHead+int(s.cfg.MaxMessage) {
				c.Abort() // a client that pipelines without bound while it waits
			}
			return c // the response in progress comes first; a relay reads frames
		}
		before := c.c.InboundBuffered()
		if x != nil && x.body != nil {
			s.readBody(c)
		} else {
			s.readHead(c)
		}
		if c.transport() != nil || (c.ext != nil && c.ext.ended) {
			c.Flush()
		}
		if next, ok := c.c.Context().(*conn); ok && next != c {
			c = next // the response ended: the next request's session
		}
		if c.c.InboundBuffered() == before || c.State() != session.StateHandshake {
			return c // more bytes are needed, or the connection moved on
		}
	}
	return c
}

// holdInput handles bytes that arrive on a connection serving a stream or
// a held poll: a stream's client has nothing to say and its bytes are
// dropped; a poll's may pipeline its next request, which waits in the
// buffer for the reply, up to a bound past which the client is cut off.
// Loop-only.
func (s *Server) holdInput(c *conn) {
	if _, poll := c.transport().(*poller.Poll); !poll {
		_, _ = c.c.Discard(-1)
		return
	}
	if c.c.InboundBuffered() > s.cfg.MaxHead+int(s.cfg.MaxMessage) {
		c.Abort()
	}
}

// AppendCursor implements poller.Output: the session's positions as a
// cursor, and extra's for the topics it has not subscribed yet, without an
// allocation for a session of a few topics. Loop-only.
func (c *conn) AppendCursor(dst []byte, extra []codec.Position) []byte {
	var buf [8]codec.Position
	ps := c.Positions(buf[:0])
	for _, r := range extra {
		if !slices.ContainsFunc(ps, func(p codec.Position) bool { return p.Topic == r.Topic }) {
			ps = append(ps, r)
		}
	}
	return codec.AppendCursor(dst, ps)
}
