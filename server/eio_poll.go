package server

import (
	"bytes"
	"net/http"
	"unicode/utf8"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// eioWaiter is an Engine.IO request waiting for its session's answer: a
// poll held until there are packets, or a post whose packets the session
// is handling. The request's connection may live on another loop than the
// session; the fields are set when the request arrives and never change,
// so either loop may read them, but c is touched only on its own loop.
type eioWaiter struct {
	c  *conn
	sh *shard // c's
	// The session the request names: its shard, id and token.
	home      *shard
	id, token uint64
	// What the answer's head takes from the request: its CORS origin,
	// HTTP minor version and keep-alive (a held poll keeps no whole
	// codec.ResponseHead).
	origin []byte
	minor  uint8
	close  bool
	// expect: a post that asked for 100 Continue, which goes once its
	// session has heard of it (proceed).
	expect bool
}

// newEIOWaiter returns a waiter for c's request, answered with head's
// origin, version and keep-alive.
func newEIOWaiter(c *conn, head codec.ResponseHead, home *shard, id, token uint64) *eioWaiter {
	return &eioWaiter{c: c, sh: c.sh, home: home, id: id, token: token,
		origin: head.Origin, minor: uint8(head.Minor), close: head.Close}
}

// eioTarget is the session a post's body goes to, once it is read.
type eioTarget struct {
	home      *shard
	id, token uint64
	octet     bool       // sent as application/octet-stream, which v4 refuses
	w         *eioWaiter // the post's answer, made when its head arrived
}

// newWaiter makes c's request of n bytes wait for session (home, id,
// token): the connection reads no further request until it is answered,
// within a hold that the session's heartbeat always beats (a ping answers
// a poll within PingInterval). Loop-only (c's loop).
func (s *Server) newWaiter(c *conn, req *codec.Request, home *shard, id, token uint64) *eioWaiter {
	w := newEIOWaiter(c, s.httpHead(req, http.StatusOK), home, id, token)
	x := c.extra()
	x.eio, x.busy = w, true
	c.Hold(2 * (s.eio.PingInterval + s.eio.PingTimeout))
	return w
}

// reply answers the request on its loop, unless its connection is gone
// or already answered. A post whose body is still arriving is answered
// too, and its connection closed with the body unread. Safe from any loop.
func (w *eioWaiter) reply(status int, contentType string, body []byte) {
	onShard(w.sh, func() {
		c := w.c
		if c.State() == session.StateClosed || c.failed || c.ext == nil {
			return
		}
		head := codec.ResponseHead{Status: status, Minor: int(w.minor), Close: w.close, Origin: w.origin}
		if b := c.ext.body; b != nil && b.eio != nil && b.eio.w == w {
			c.ext.body = nil
			c.respondClose(head, contentType, body)
			return
		}
		if c.ext.eio != w {
			return
		}
		c.ext.eio, c.ext.busy = nil, false
		c.respondKeep(head, contentType, body)
		c.Flush() // written now, and the next request read
	})
}

// answer answers a poll with a payload of packets. Safe from any loop.
func (w *eioWaiter) answer(contentType string, body []byte) {
	w.reply(http.StatusOK, contentType, body)
}

// refuse answers with the reference server's JSON refusal. Safe from any
// loop.
func (w *eioWaiter) refuse(code codec.EIOError) {
	w.reply(http.StatusBadRequest, eioErrorJSON, codec.AppendEIOError(nil, code, ""))
}

// gone tells the session that the request's connection closed before its
// answer: a poll cut short ends the session ("poll connection closed
// prematurely", a transport error on the reference server). Loop-only
// (c's loop).
func (w *eioWaiter) gone() {
	onShard(w.home, func() {
		if es := lookupEIO(w.home, w.id, w.token); es != nil && es.poll == w {
			es.setPoll(nil)
			es.finish(codec.StatusAbnormalClosure, "transport error", 0)
		}
	})
}

// eioGet serves a poll: it is held on the session's shard until the
// session has packets for it. Loop-only.
func (s *Server) eioGet(c *conn, req *codec.Request, n int, home *shard, id, token uint64) {
	if !bodiless(req) {
		s.eioRefuse(c, req, n, codec.EIOBadRequest, 0, "")
		return
	}
	_, _ = c.c.Discard(n)
	w := s.newWaiter(c, req, home, id, token)
	if !onShard(home, func() { s.eioPollArrived(w) }) {
		w.refuse(codec.EIOUnknownSID)
	}
}

// eioPollArrived hands a poll to its session. Loop-only (the session's
// loop).
func (s *Server) eioPollArrived(w *eioWaiter) {
	es := lookupEIO(w.home, w.id, w.token)
	switch {
	case es == nil:
		w.refuse(s.eioUnknown(w.home, w.id, w.token))
	case es.ws != nil:
		w.refuse(codec.EIOBadRequest) // upgraded: polling is no longer its transport
	case es.poll != nil:
		// Overlapping polls: the reference server closes the session (the
		// first poll gets the close packet) and answers this one 400.
		w.reply(http.StatusBadRequest, "", nil)
		es.sh.Stats().Evicted(session.ReasonProtocolError)
		es.finish(codec.StatusProtocolError, "transport error", codec.EIOClose)
	default:
		es.setPoll(w)
		es.Flush()
		if es.poll != nil && es.probe != nil && es.probed {
			// An upgrade is under way: the poll ends at once with a
			// noop, so that the client can pause polling and upgrade.
			es.answerPoll([]byte{byte(codec.EIONoop)})
		}
	}
}

// eioPost reads a post's body, up to MaxPayload; its packets then go to
// the session. Loop-only.
func (s *Server) eioPost(c *conn, req *codec.Request, n int, home *shard, id, token uint64) {
	head := s.httpHead(req, http.StatusOK)
	kind, length, err := req.Body()
	switch {
	case err != nil:
		c.respond(http.StatusBadRequest, corsLines(head), "bad body framing\n")
		return
	case kind == codec.BodyLength && length > int64(s.eio.MaxPayload):
		s.eioTooLarge(c, head, &eioTarget{home: home, id: id, token: token})
		return
	}
	_, _ = c.c.Discard(n)
	octet := bytes.EqualFold(req.Header("Content-Type"), []byte("application/octet-stream"))
	w := newEIOWaiter(c, head, home, id, token)
	c.extra().body = &bodyReader{kind: kind, left: length, head: head, limit: int64(s.eio.MaxPayload),
		eio: &eioTarget{home: home, id: id, token: token, octet: octet, w: w}}
	w.expect = kind != codec.BodyNone && bytes.EqualFold(req.Header("Expect"), []byte("100-continue")) && c.c.InboundBuffered() == 0
	// The session learns of the post now, and the client is told to send
	// its body (100 Continue) only once the session has heard of it
	// (proceed): a second post, sent after that and landing on any loop,
	// even the session's own, finds the session posting.
	onShard(home, func() { s.eioPostBegan(w) })
	if c.ext.body == nil {
		return // refused at once (the session runs on this loop)
	}
	s.readBody(c)
}

// eioPostBegan tells a session that a post's head arrived: its body is
// coming. One post at a time: a second one while the first is still
// arriving or being handled gets the reference server's answer, 400 with
// no body, and ends the session ("data request overlap from client", a
// transport error); the first one's connection is dropped unanswered if
// its body is still arriving. Loop-only (the session's loop).
func (s *Server) eioPostBegan(w *eioWaiter) {
	es := lookupEIO(w.home, w.id, w.token)
	switch {
	case es == nil || es.ws != nil:
		// Refused when its packets arrive (eioPosted).
		w.proceed()
	case es.posting:
		// The session's end drops the first post (finish), whose body is
		// still arriving, as the reference's polling transport destroys
		// its data request when it closes.
		es.sh.Stats().Evicted(session.ReasonProtocolError)
		es.finish(codec.StatusProtocolError, "transport error", codec.EIOClose)
		w.reply(http.StatusBadRequest, "", nil)
	default:
		es.posting = true
		if es.sh.eioPosts == nil {
			es.sh.eioPosts = make(map[uint64]*eioWaiter)
		}
		es.sh.eioPosts[es.ID()] = w
		w.proceed()
	}
}

// takePost ends the session's post in progress, if it is w (any, when w
// is nil), and returns it; else nil. Loop-only (the session's loop).
func (es *eioSess) takePost(w *eioWaiter) *eioWaiter {
	if !es.posting {
		return nil
	}
	cur := es.sh.eioPosts[es.ID()]
	if w != nil && cur != w {
		return nil
	}
	es.posting = false
	delete(es.sh.eioPosts, es.ID())
	return cur
}

// proceed sends the post's 100 Continue, if it asked for one, unless its
// connection is gone or its post answered. Safe from any loop.
func (w *eioWaiter) proceed() {
	if !w.expect {
		return
	}
	onShard(w.sh, func() {
		c := w.c
		if c.State() == session.StateClosed || c.failed || c.ext == nil {
			return
		}
		if b := c.ext.body; b == nil || b.eio == nil || b.eio.w != w {
			return
		}
		buf := c.queue()
		buf.B = append(buf.B, continueAnswer...)
		c.write()
	})
}

// abort drops the connection of a post that its session never took:
// its body is still arriving, or its packets are on their way to the
// session, which ended first. The reference's polling transport destroys
// such a request unanswered; its packets are lost either way, and a
// session that ended between the body's end and the session's hearing of
// it is no different for the client. Safe from any loop (the session's:
// its abort goes ahead of any answer it sends the post later).
func (w *eioWaiter) abort() {
	onShard(w.sh, func() {
		c := w.c
		if c.State() == session.StateClosed || c.failed || c.ext == nil {
			return
		}
		switch x := c.ext; {
		case x.body != nil && x.body.eio != nil && x.body.eio.w == w:
			x.body = nil
		case x.eio == w:
			x.eio, x.busy = nil, false
		default:
			return
		}
		c.Abort()
	})
}

// eioPostGone tells a session that a post's connection closed before its
// body was complete: the session takes posts again. Loop-only (the post's
// connection's loop).
func (s *Server) eioPostGone(t *eioTarget) {
	onShard(t.home, func() {
		if es := lookupEIO(t.home, t.id, t.token); es != nil {
			es.takePost(t.w)
		}
	})
}

// eioTooLarge answers a post over MaxPayload as the reference server does:
// 413 with no body, the connection closed with its body unread, and the
// session ended ("transport error"). Loop-only.
func (s *Server) eioTooLarge(c *conn, head codec.ResponseHead, t *eioTarget) {
	c.respond(http.StatusRequestEntityTooLarge, corsLines(head), "")
	onShard(t.home, func() {
		if es := lookupEIO(t.home, t.id, t.token); es != nil {
			es.sh.Stats().Evicted(session.ReasonProtocolError)
			es.finish(codec.StatusMessageTooBig, "transport error", codec.EIOClose)
		}
	})
}

// eioData hands a post's complete body to its session. Loop-only.
func (s *Server) eioData(c *conn, b *bodyReader) {
	t := b.eio
	w := t.w
	x := c.extra()
	x.eio, x.busy = w, true
	data, octet := b.data, t.octet
	if !onShard(t.home, func() { s.eioPosted(w, data, octet) }) {
		w.refuse(codec.EIOUnknownSID)
	}
}

// postOKBody is the answer to a post whose packets the session took.
var postOKBody = []byte("ok")

// eioPosted decodes a post's packets for its session and answers "ok", or
// 400 when they do not decode, which ends the session ("parse error").
// Loop-only (the session's loop).
func (s *Server) eioPosted(w *eioWaiter, data []byte, octet bool) {
	es := lookupEIO(w.home, w.id, w.token)
	if es != nil {
		es.takePost(w)
	}
	switch {
	case es == nil:
		w.refuse(s.eioUnknown(w.home, w.id, w.token))
		return
	case es.ws != nil:
		w.refuse(codec.EIOBadRequest)
		return
	case octet:
		// A v4 payload is text; the reference server ends the session
		// ("invalid content", a transport error).
		es.sh.Stats().Evicted(session.ReasonProtocolError)
		es.finish(codec.StatusProtocolError, "transport error", codec.EIOClose)
		w.refuse(codec.EIOBadRequest)
		return
	case !utf8.Valid(data):
		es.parseError()
		w.refuse(codec.EIOBadRequest)
		return
	}
	var scratch []byte
	// A closing session ignores what the client says meanwhile.
	for rest, more := data, es.end == nil; more && !es.ended; {
		var p []byte
		p, rest, more = codec.SplitEIOPayload(rest)
		pkt, grown, err := codec.DecodeEIOText(p, scratch[:0])
		scratch = grown
		if err != nil {
			es.parseError()
			w.refuse(codec.EIOBadRequest)
			return
		}
		es.onPacket(pkt)
		if pkt.Type == codec.EIOPing {
			// It ended the session (a transport error), as a packet
			// that does not decode would: refused alike.
			w.refuse(codec.EIOBadRequest)
			return
		}
	}
	w.reply(http.StatusOK, postOK, postOKBody)
}

// eioConnClosed tells the sessions that a closing connection served
// (a request waiting for one, a WebSocket relaying for one) that it is
// gone. Loop-only.
func (s *Server) eioConnClosed(c *conn) {
	x := c.ext
	if x != nil && x.eio != nil {
		w := x.eio
		x.eio = nil
		w.gone()
	}
	if x != nil && x.body != nil && x.body.eio != nil {
		t := x.body.eio
		x.body = nil
		s.eioPostGone(t)
	}
	if l := c.link(); l != nil {
		// Nothing more is written to it: the session's close, which may
		// run now on this loop, must not write into a closing socket.
		c.failed = true
		code := codec.StatusAbnormalClosure
		if x != nil && x.peer != nil {
			code = x.peer.code
		}
		l.gone(code)
	}
}
