package server

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Connections per client address (Config.MaxConnsPerIP).

// perIPRetryAfter is the header line of the 429 answer over
// Config.MaxConnsPerIP: a second is enough for one of the client's other
// connections to end, and short enough that a browser that opened one tab
// too many recovers at once.
const perIPRetryAfter = "Retry-After: 1\r\n"

// countLimiter counts the connections held by each key (a client
// address, a user) across all loops. A key is in the map only while it
// holds a connection, so the map is bounded by the connections open. Safe
// for concurrent use.
type countLimiter[K comparable] struct {
	max int32
	// guards the fields below
	mu    sync.Mutex
	count map[K]int32
}

// ipLimiter counts connections per client address.
type ipLimiter = countLimiter[netip.Addr]

// newCountLimiter returns a limiter of max per key, or nil for max <= 0
// (no limit).
func newCountLimiter[K comparable](max int) *countLimiter[K] {
	if max <= 0 {
		return nil
	}
	return &countLimiter[K]{max: int32(max), count: make(map[K]int32)}
}

func newIPLimiter(max int) *ipLimiter { return newCountLimiter[netip.Addr](max) }

// acquire takes a slot for a, or reports false when a holds max already.
func (l *countLimiter[K]) acquire(a K) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.count[a]
	if n >= l.max {
		return false
	}
	l.count[a] = n + 1
	return true
}

// release returns a slot of a; the entry goes when its count is 0.
func (l *countLimiter[K]) release(a K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.count[a] - 1; n > 0 {
		l.count[a] = n
	} else {
		delete(l.count, a)
	}
}

// addrIP returns the IP of a client address as Request.RemoteAddr gives it.
func addrIP(a net.Addr) (netip.Addr, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip := tcp.AddrPort().Addr().Unmap()
		return ip, ip.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// admitIP charges the request's handshake to Config.HandshakeRate, then
// takes a slot of Config.MaxConnsPerIP for the connection whose
// request came from client, once per request: a connection holds at most
// one slot, released when its request's session ends (endResponse) or the
// connection closes (OnClose), so that a kept-alive connection counts once
// and a proxy's connection, which carries one client after another, counts
// for the client of the moment. Over the cap it answers 429 with
// Retry-After, with extra header lines (CORS), in Engine.IO's form when
// eio is the head of an Engine.IO request (refuseLimit), and reports
// false. Loop-only.
func (s *Server) admitIP(c *conn, client net.Addr, extra string, eio *codec.Request) bool {
	if s.perIP == nil && s.handshakes == nil {
		return true
	}
	ip, ok := addrIP(client)
	if !ok {
		return true // not an IP address (a test's pipe): nothing to count by
	}
	if s.handshakes != nil && !s.handshakes.take(ip, time.Now()) {
		c.sh.Stats().Evicted(session.ReasonHandshakeRate)
		s.refuseLimit(c, eio, http.StatusTooManyRequests, extra, perIPRetryAfter, codec.EIOHandshakeRate)
		return false
	}
	if s.perIP == nil {
		return true
	}
	if _, held := c.sh.perIP[c]; held {
		return true
	}
	if !s.perIP.acquire(ip) {
		c.sh.Stats().Evicted(session.ReasonPerIPLimit)
		s.refuseLimit(c, eio, http.StatusTooManyRequests, extra, perIPRetryAfter, codec.EIOTooManyConnections)
		return false
	}
	if c.sh.perIP == nil {
		c.sh.perIP = make(map[*conn]netip.Addr)
	}
	c.sh.perIP[c] = ip
	return true
}

// releaseIP returns the connection's slot of Config.MaxConnsPerIP, if it
// holds one. Loop-only.
func (s *Server) releaseIP(c *conn) {
	if s.perIP == nil {
		return
	}
	if ip, held := c.sh.perIP[c]; held {
		delete(c.sh.perIP, c)
		s.perIP.release(ip)
	}
}
