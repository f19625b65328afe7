package server

import (
	"errors"
	"net/netip"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Engine.IO sessions and the per-client limits (iplimit.go,
// userlimit.go). A handshake takes its address's slot of
// Config.MaxConnsPerIP (admitIP) and its user's of Config.MaxConnsPerUser
// (takeUser) on its connection, as any request does; the slots then go to
// the session, which may outlive the connection (a polling session's
// handshake, a WebSocket it upgraded from), and return when it ends,
// whatever connections its polls, posts and WebSocket came on.
// Each poll takes a slot of Config.MaxPollsPerIP while it is held, as
// the other long-polls do.

// eioSlots are the slots a polling session holds.
type eioSlots struct {
	ip    netip.Addr // the address whose slot it holds, when hasIP
	user  string     // the user whose slot it holds, if any
	hasIP bool
}

// eioHoldSlots moves the slots that c's handshake took to es, which c
// answered or carries. Loop-only (c's loop, es's home).
func (s *Server) eioHoldSlots(c *conn, es *eioSess) {
	var k eioSlots
	if ip, held := c.sh.perIP[c]; held {
		delete(c.sh.perIP, c)
		k.ip, k.hasIP = ip, true
	}
	if user, held := c.sh.userSlots[c]; held {
		delete(c.sh.userSlots, c)
		k.user = user
	}
	if !k.hasIP && k.user == "" {
		return
	}
	if es.sh.eioSlots == nil {
		es.sh.eioSlots = make(map[uint64]eioSlots)
	}
	es.sh.eioSlots[es.ID()] = k
}

// eioReleaseSlots returns the slots es holds, as it ends. Loop-only (es's
// home).
func (s *Server) eioReleaseSlots(es *eioSess) {
	k, held := es.sh.eioSlots[es.ID()]
	if !held {
		return
	}
	delete(es.sh.eioSlots, es.ID())
	if k.hasIP {
		s.perIP.release(k.ip)
	}
	if k.user != "" {
		s.perUser.release(k.user)
	}
}

// eioAdmitPoll takes a slot of Config.MaxPollsPerIP for a poll, or
// answers it 429 with Retry-After in Engine.IO's form and reports false.
// Loop-only.
func (s *Server) eioAdmitPoll(c *conn, req *codec.Request) bool {
	if s.perPoll == nil {
		return true
	}
	client := clientAddr(s.cfg.TrustedProxies, s.cfg.ClientAddrHeader, c.peer(), req)
	return s.admitPoll(c, client, corsLines(s.httpHead(req, 0)), req)
}

// refuseLimit answers a request that a limit of the server refuses, with
// status, the Retry-After line retry and code's message, and ends the
// connection: a polling request at the Engine.IO path (eio, its head) in
// the reference's JSON shape, which Engine.IO clients read, with code;
// any other request (eio nil, or a WebSocket handshake, which the
// reference refuses in plain text too) in plain text, with the CORS lines
// cors. Loop-only.
func (s *Server) refuseLimit(c *conn, eio *codec.Request, status int, cors, retry string, code codec.EIOError) {
	if eio == nil || eio.IsWebSocketUpgrade() {
		c.respond(status, cors+retry, code.Message()+"\n")
		return
	}
	// Closed, as the plain answer is: a client over a limit keeps no
	// idle connection either.
	head := s.httpHead(eio, status)
	head.Extra = retry
	c.respondClose(head, eioErrorJSON, codec.AppendEIOError(nil, code, ""))
}

// ErrUserLimit is AdmitUser's refusal: the user has Config.MaxConnsPerUser
// sessions already. Its text is ReasonUserLimit.
var ErrUserLimit = errors.New(ReasonUserLimit)

// AdmitUser makes user a user of an Engine.IO session (Config.Engine), as
// SetUser does, when Config.MaxConnsPerUser lets the user have one more
// session; else it returns ErrUserLimit (counted as a per_user_limit
// refusal) and the session is left as it was. It is for a user learnt
// after the handshake, such as a Socket.IO CONNECT's token. A session
// holds one user's slot, until it ends: once it holds one (its handshake
// set a user, or AdmitUser did), AdmitUser is SetUser. On a session of
// another transport, whose user was counted at its handshake, it is
// SetUser. Loop-only.
func (s *Session) AdmitUser(user string) error {
	ss := s.machinery()
	if ec, ok := ss.Transport().(*eioConn); ok && user != "" && ec.sh.srv.perUser != nil {
		// A direct WebSocket's session is its connection's: the slot stays
		// on the connection and returns when it closes (releaseSlots).
		c := (*conn)(ec)
		if _, held := c.sh.userSlots[c]; !held {
			if !c.sh.srv.perUser.acquire(user) {
				c.sh.Stats().Evicted(session.ReasonPerUserLimit)
				return ErrUserLimit
			}
			if c.sh.userSlots == nil {
				c.sh.userSlots = make(map[*conn]string)
			}
			c.sh.userSlots[c] = user
		}
	}
	es, ok := ss.Transport().(*eioSess)
	if ok && user != "" && es.sh.srv.perUser != nil {
		sh, srv := es.sh, es.sh.srv
		k := sh.eioSlots[es.ID()]
		if k.user == "" {
			if !srv.perUser.acquire(user) {
				sh.Stats().Evicted(session.ReasonPerUserLimit)
				return ErrUserLimit
			}
			k.user = user
			if sh.eioSlots == nil {
				sh.eioSlots = make(map[uint64]eioSlots)
			}
			sh.eioSlots[es.ID()] = k
		}
	}
	ss.SetUser(user)
	return nil
}
