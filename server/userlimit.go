package server

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Connections per user (Config.MaxConnsPerUser) and held polls per client
// address (Config.MaxPollsPerIP). Like Config.MaxConnsPerIP, a slot is
// taken by a request and returned when its session ends or its
// connection closes (releaseSlots), and the counts are shared by the
// loops behind one mutex each, taken only when the limit is on.

// Reasons of the 429 answers over these limits.
const (
	ReasonUserLimit = "too many connections for this user"
	ReasonPollLimit = "too many polls from your address"
)

// connect runs the handler's OnConnect for r, then takes a slot of
// Config.MaxConnsPerUser for the user it set, if any: over the cap the
// request is refused with 429 and Retry-After. Loop-only.
func (s *Server) connect(c *conn, r *Request) error {
	if err := s.handler.OnConnect(r); err != nil {
		return err
	}
	return s.takeUser(c, r)
}

// takeUser takes a slot of Config.MaxConnsPerUser for the user that
// OnConnect set on r, if any, held by c: over the cap it returns the 429
// refusal with Retry-After. Loop-only.
func (s *Server) takeUser(c *conn, r *Request) error {
	if s.perUser == nil || r.user == "" {
		return nil
	}
	if _, held := c.sh.userSlots[c]; held {
		return nil
	}
	if !s.perUser.acquire(r.user) {
		c.sh.Stats().Evicted(session.ReasonPerUserLimit)
		return codec.RejectWith(http.StatusTooManyRequests, ReasonUserLimit, perIPRetryAfter)
	}
	if c.sh.userSlots == nil {
		c.sh.userSlots = make(map[*conn]string)
	}
	c.sh.userSlots[c] = r.user
	return nil
}

// admitPoll takes a slot of Config.MaxPollsPerIP for a poll from client,
// or answers 429 with Retry-After (and extra header lines; in Engine.IO's
// form when eio is the head of an Engine.IO poll) and reports false.
// Loop-only.
func (s *Server) admitPoll(c *conn, client net.Addr, extra string, eio *codec.Request) bool {
	if s.perPoll == nil {
		return true
	}
	ip, ok := addrIP(client)
	if !ok {
		return true
	}
	if _, held := c.sh.pollSlots[c]; held {
		return true
	}
	if !s.perPoll.acquire(ip) {
		c.sh.Stats().Evicted(session.ReasonPollsPerIP)
		s.refuseLimit(c, eio, http.StatusTooManyRequests, extra, perIPRetryAfter, codec.EIOTooManyPolls)
		return false
	}
	if c.sh.pollSlots == nil {
		c.sh.pollSlots = make(map[*conn]netip.Addr)
	}
	c.sh.pollSlots[c] = ip
	return true
}

// releaseSlots returns every slot the connection's request holds: its
// address's, its user's, its poll's. Loop-only.
func (s *Server) releaseSlots(c *conn) {
	s.releaseIP(c)
	if s.perUser != nil {
		if user, held := c.sh.userSlots[c]; held {
			delete(c.sh.userSlots, c)
			s.perUser.release(user)
		}
	}
	if s.perPoll != nil {
		if ip, held := c.sh.pollSlots[c]; held {
			delete(c.sh.pollSlots, c)
			s.perPoll.release(ip)
		}
	}
}
