package server

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/c1mhq/c1m/codec"
)

// The client's address behind a proxy (Config.TrustedProxies,
// Config.ClientAddrHeader).

// Header names for Config.ClientAddrHeader.
const (
	// HeaderForwardedFor is X-Forwarded-For: addresses separated by
	// commas, each proxy appending the one it received the request from.
	HeaderForwardedFor = "X-Forwarded-For"
	// HeaderForwarded is RFC 7239's Forwarded: elements separated by
	// commas, whose for= parameters name the addresses in the same order.
	HeaderForwarded = "Forwarded"
)

// clientAddr returns the address of the client that sent req over a
// connection from peer: peer itself, unless peer is a trusted proxy and
// the header (every field of that name, in order) names the client. The
// entries are read from the right, each added by the proxy that received
// the request from the one before: the first that is not a trusted proxy
// is the client. An entry that does not parse (also Forwarded's "unknown"
// and obfuscated names) ends the walk at the last trusted hop: what lies
// left of it cannot be trusted.
func clientAddr(trusted []netip.Prefix, header string, peer net.Addr, req *codec.Request) net.Addr {
	if len(trusted) == 0 {
		return peer
	}
	tcp, ok := peer.(*net.TCPAddr)
	if !ok || !isTrusted(trusted, tcp.AddrPort().Addr().Unmap()) {
		return peer
	}
	forwarded := header == HeaderForwarded
	var hops [][]byte
	req.EachHeader(func(k, v []byte) bool {
		if !bytes.EqualFold(k, []byte(header)) {
			return true
		}
		for e := range bytes.SplitSeq(v, []byte(",")) {
			if forwarded {
				e = forwardedFor(e)
			}
			hops = append(hops, bytes.TrimSpace(e))
		}
		return true
	})
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
		if !isTrusted(trusted, a) {
			break
		}
	}
	return client
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor returns the for= value of one Forwarded element
// (`for=192.0.2.60;proto=https`, `for="[2001:db8::17]:4711"`), unquoted,
// or nil.
func forwardedFor(elem []byte) []byte {
	for pair := range bytes.SplitSeq(elem, []byte(";")) {
		k, v, ok := bytes.Cut(pair, []byte("="))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("for")) {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return nil
}

// parseHop parses one entry: an address, or an address and port
// ("192.0.2.1:4711", "[2001:db8::1]:4711"), or a bracketed IPv6 address,
// as proxies write them.
func parseHop(b []byte) (netip.Addr, bool) {
	if len(b) > 2 && b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	if a, err := netip.ParseAddr(string(b)); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(string(b)); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
