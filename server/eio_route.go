package server

import (
	"net/http"
	"strings"

	"github.com/c1mhq/c1m/codec"
)

// Engine.IO transports, as the transport= parameter names them.
const (
	eioPolling   = "polling"
	eioWebSocket = "websocket"
)

// Content types of the reference server's answers.
const (
	pollText     = "text/plain; charset=UTF-8" // a poll's payload
	postOK       = "text/html"                 // the "ok" to a post
	eioErrorJSON = "application/json"          // a refusal
)

// serveEIO serves a request to the Engine.IO path, whose head of n bytes
// is complete: a handshake, a poll, a post, a WebSocket, or the reference
// server's refusal, checked in its order (transport, then sid, then
// method). Loop-only.
func (s *Server) serveEIO(c *conn, req *codec.Request, n int) {
	upgrade := req.IsWebSocketUpgrade()
	if o := req.Header("Origin"); len(o) > 0 && !s.originAllowed(req) {
		c.respond(http.StatusForbidden, "", "origin not allowed\n")
		return
	}
	method := string(req.Method)
	if method == http.MethodOptions && !upgrade {
		if !bodiless(req) {
			c.respond(http.StatusBadRequest, corsLines(s.httpHead(req, 0)), "this request takes no body\n")
			return
		}
		head := s.httpHead(req, http.StatusNoContent)
		head.Extra = codec.PreflightHeaders
		c.respondKeep(head, "", nil)
		_, _ = c.c.Discard(n)
		return
	}
	q, err := codec.ParseEIOQuery(req.RawQuery)
	switch {
	case err != nil:
		s.eioRefuse(c, req, n, codec.EIOBadRequest, 0, "")
		return
	case q.Transport != eioPolling && q.Transport != eioWebSocket:
		s.eioRefuse(c, req, n, codec.EIOUnknownTransport, 0, "")
		return
	}
	if q.SID != "" {
		id, token, ok := parseSID(q.SID)
		target := s.hub.ByID(id)
		switch {
		case !ok || target == nil:
			s.eioRefuse(c, req, n, codec.EIOUnknownSID, 0, "")
		case upgrade && q.Transport == eioWebSocket:
			s.eioUpgrade(c, req, target.Executor().(*shard), id, token)
		case upgrade || q.Transport == eioWebSocket:
			// A WebSocket on the polling transport, or a plain request
			// on the WebSocket one: the transports do not match.
			s.eioRefuse(c, req, n, codec.EIOBadRequest, 0, "")
		case method == http.MethodGet && !s.eioAdmitPoll(c, req):
			// Answered 429: the address holds Config.MaxPollsPerIP polls.
		case method == http.MethodGet:
			s.eioGet(c, req, n, target.Executor().(*shard), id, token)
		case method == http.MethodPost:
			s.eioPost(c, req, n, target.Executor().(*shard), id, token)
		default:
			// The reference server's polling transport answers any other
			// method 500, with no body.
			s.eioAnswer(c, req, n, http.StatusInternalServerError, "", nil)
		}
		return
	}
	switch {
	case method != http.MethodGet:
		s.eioRefuse(c, req, n, codec.EIOBadHandshakeMethod, 0, "")
		return
	case upgrade != (q.Transport == eioWebSocket):
		s.eioRefuse(c, req, n, codec.EIOBadRequest, 0, "")
		return
	case q.EIO != "4":
		// EIO=3 (Socket.IO v2 clients) and anything else.
		s.eioRefuse(c, req, n, codec.EIOUnsupportedProtocol, 0, "")
		return
	case !bodiless(req):
		s.eioRefuse(c, req, n, codec.EIOBadRequest, 0, "")
		return
	}
	r := Request{req: req, remote: clientAddr(s.cfg.TrustedProxies, s.cfg.ClientAddrHeader, c.peer(), req)}
	if !s.admitIP(c, r.remote, corsLines(s.httpHead(req, 0)), req) {
		return
	}
	if upgrade {
		s.eioOpenWebSocket(c, req, n, &r)
		return
	}
	err = s.eio.Handler.OnConnect(&r)
	if err == nil {
		err = s.takeUser(c, &r)
	}
	if err != nil {
		status := codec.RejectStatus(err)
		if status == 0 {
			status = http.StatusForbidden
		}
		s.eioRefuseWith(c, req, n, codec.EIOForbidden, status, codec.RejectHeader(err), rejectReason(err))
		return
	}
	es := s.openEIO(c.sh, &r)
	s.eioHoldSlots(c, es)
	// The handshake's answer is the open packet alone; what OnOpen sends
	// goes with the next poll, as on the reference server.
	body, _ := codec.AppendEIOPolling(nil, es.out, s.eio.MaxPayload)
	es.out = nil
	s.eioAnswer(c, req, n, http.StatusOK, pollText, body)
	s.eioDispatchOpen(es)
}

// rejectReason returns the reason OnConnect gave with Reject, as valid
// UTF-8.
func rejectReason(err error) string {
	return strings.ToValidUTF8(strings.TrimPrefix(err.Error(), "codec: "), "\uFFFD")
}

// eioAnswer answers a request with a complete response, keeping the
// connection for the next request when the request allows it and carried
// no body (one that did is closed: its body was not read). Loop-only.
func (s *Server) eioAnswer(c *conn, req *codec.Request, n, status int, contentType string, body []byte) {
	s.eioAnswerWith(c, req, n, status, "", contentType, body)
}

// eioAnswerWith is eioAnswer with extra header lines. Loop-only.
func (s *Server) eioAnswerWith(c *conn, req *codec.Request, n, status int, extra, contentType string, body []byte) {
	head := s.httpHead(req, status)
	head.Extra = extra
	if !bodiless(req) {
		c.respondClose(head, contentType, body)
		return
	}
	c.respondKeep(head, contentType, body)
	_, _ = c.c.Discard(n)
}

// eioRefuse answers a request the reference server refuses: a polling
// request with status (400 unless given) and the JSON of code, message
// (the code's own when empty); a WebSocket handshake with a plain 400 and
// the message, closing the connection. Loop-only.
func (s *Server) eioRefuse(c *conn, req *codec.Request, n int, code codec.EIOError, status int, message string) {
	s.eioRefuseWith(c, req, n, code, status, "", message)
}

// eioRefuseWith is eioRefuse with extra header lines (Retry-After) on a
// polling request's answer. Loop-only.
func (s *Server) eioRefuseWith(c *conn, req *codec.Request, n int, code codec.EIOError, status int, extra, message string) {
	if status == 0 {
		status = http.StatusBadRequest
		if code == codec.EIOForbidden {
			status = http.StatusForbidden
		}
	}
	if req.IsWebSocketUpgrade() {
		if message == "" {
			message = code.Message()
		}
		c.respond(status, "", message)
		return
	}
	s.eioAnswerWith(c, req, n, status, extra, eioErrorJSON, codec.AppendEIOError(nil, code, message))
}

// onShard runs fn on sh's loop: at once when the caller runs there, else
// through its inbox. It reports false when sh no longer takes tasks (its
// loop stops). Safe for concurrent use.
func onShard(sh *shard, fn func()) bool {
	if sh.OnLoop() {
		fn()
		return true
	}
	sh.srv.eioHops.Add(1)
	return sh.Post(fn) == nil
}
