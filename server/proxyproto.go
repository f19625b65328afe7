package server

import (
	"net"
	"net/http"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// The PROXY protocol on the client listener (Config.ProxyProtocol).

// ProxyProtocol says whether connections from Config.TrustedProxies start
// with a PROXY protocol header (haproxy's send-proxy, send-proxy-v2;
// nginx's proxy_protocol), which names the client in place of the TCP
// peer.
type ProxyProtocol uint8

const (
	// ProxyProtocolOff reads no PROXY protocol header: one would be a
	// malformed request (400).
	ProxyProtocolOff ProxyProtocol = iota
	// ProxyProtocolOptional reads a header, version 1 or 2, when a
	// trusted proxy sends one; a connection without it is served with
	// its TCP peer as the client.
	ProxyProtocolOptional
	// ProxyProtocolRequired refuses a connection from a trusted proxy
	// that does not start with a header (400). Peers outside
	// TrustedProxies are served as without a proxy in both modes, and a
	// header they send is refused (400): only a trusted proxy may name
	// the client.
	ProxyProtocolRequired
)

// ParseProxyProtocol parses "off", "optional" or "required". Safe for
// concurrent use.
func ParseProxyProtocol(s string) (ProxyProtocol, error) {
	switch s {
	case "off", "":
		return ProxyProtocolOff, nil
	case "optional":
		return ProxyProtocolOptional, nil
	case "required":
		return ProxyProtocolRequired, nil
	}
	return 0, ErrProxyProtocolMode
}

// readProxyHeader reads the PROXY protocol header a new connection starts
// with, if Config.ProxyProtocol asks for one, and reports whether the
// request head may be read: false when more bytes are needed or the
// connection was refused. The client address the header names is the
// connection's peer from then on, also for the requests that follow on a
// kept-alive connection (endResponse). Loop-only.
func (s *Server) readProxyHeader(c *conn) bool {
	buf, _ := c.c.Peek(-1)
	h, n, err := codec.ParseProxyHeader(buf, s.cfg.MaxHead)
	if n == 0 && err == nil {
		return false
	}
	ip, _ := addrIP(c.c.RemoteAddr())
	trusted := isTrusted(s.cfg.TrustedProxies, ip)
	switch {
	case err == codec.ErrNoProxyHeader && trusted && s.cfg.ProxyProtocol == ProxyProtocolRequired:
		s.refuseProxy(c, "PROXY protocol header required\n")
		return false
	case err == codec.ErrNoProxyHeader:
		c.proxyRead = true
		return true
	case err != nil:
		s.refuseProxy(c, "malformed PROXY protocol header\n")
		return false
	case !trusted:
		s.refuseProxy(c, "PROXY protocol header from a peer that is not a trusted proxy\n")
		return false
	}
	_, _ = c.c.Discard(n) // n > 0: Discard(0) would discard everything
	c.proxyRead = true
	if !h.Local {
		c.extra().client = net.TCPAddrFromAddrPort(h.Source)
	}
	return true
}

// refuseProxy answers a connection refused for its PROXY protocol header.
func (s *Server) refuseProxy(c *conn, reason string) {
	c.sh.Stats().Evicted(session.ReasonProxyProtocol)
	c.respond(http.StatusBadRequest, "", reason)
}

// peer returns the connection's peer: the client a trusted proxy named in
// its PROXY protocol header, or the TCP peer. Loop-only.
func (c *conn) peer() net.Addr {
	if c.ext != nil && c.ext.client != nil {
		return c.ext.client
	}
	return c.c.RemoteAddr()
}
