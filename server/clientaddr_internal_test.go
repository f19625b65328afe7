package server

import (
	"net"
	"net/netip"
	"testing"

	"github.com/c1mhq/c1m/codec"
)

// TestClientAddr: the client address header is believed only from a
// trusted peer, and then only up to the first hop that is not a trusted
// proxy, so that what a client writes into the header never becomes its
// address; only the configured header is read.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		header  string // Config.ClientAddrHeader; "": X-Forwarded-For
		peer    string
		headers string
		want    string
	}{
		{"no trusted proxies", nil, "", "127.0.0.1:5000", "X-Forwarded-For: 192.0.2.1\r\n", "127.0.0.1:5000"},
		{"untrusted peer", trusted, "", "192.0.2.9:5000", "X-Forwarded-For: 192.0.2.1\r\n", "192.0.2.9:5000"},
		{"trusted peer, no header", trusted, "", "127.0.0.1:5000", "", "127.0.0.1:5000"},
		{"trusted peer", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 192.0.2.1\r\n", "192.0.2.1:0"},
		{"lower-case name", trusted, "", "127.0.0.1:5000", "x-forwarded-for: 192.0.2.1\r\n", "192.0.2.1:0"},
		{"spoofed entry left of the client", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 203.0.113.7, 192.0.2.1\r\n", "192.0.2.1:0"},
		{"chain of trusted proxies", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 203.0.113.7, 192.0.2.1, 10.1.2.3\r\n", "192.0.2.1:0"},
		{"one field per proxy", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 192.0.2.1\r\n", "192.0.2.1:0"},
		{"every hop trusted", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", "10.0.0.1:0"},
		{"garbage right of the client", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 192.0.2.1, nonsense\r\n", "127.0.0.1:5000"},
		{"garbage left of the client", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: nonsense, 192.0.2.1\r\n", "192.0.2.1:0"},
		{"garbage after a trusted hop", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: nonsense, 10.0.0.2\r\n", "10.0.0.2:0"},
		{"address and port", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: 192.0.2.1:4711\r\n", "192.0.2.1:0"},
		{"IPv6", trusted, "", "[2001:db8::1]:5000", "X-Forwarded-For: 2001:db9::7\r\n", "[2001:db9::7]:0"},
		{"IPv6 with port", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: [2001:db9::7]:4711\r\n", "[2001:db9::7]:0"},
		{"IPv4-mapped peer", trusted, "", "[::ffff:127.0.0.1]:5000", "X-Forwarded-For: ::ffff:192.0.2.1\r\n", "192.0.2.1:0"},
		{"empty header", trusted, "", "127.0.0.1:5000", "X-Forwarded-For:\r\n", "127.0.0.1:5000"},
		{"bracketed IPv6", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: [2001:db9::7]\r\n", "[2001:db9::7]:0"},
		{"zone refused", trusted, "", "127.0.0.1:5000", "X-Forwarded-For: fe80::1%eth0\r\n", "127.0.0.1:5000"},
		{"Forwarded", trusted, HeaderForwarded, "127.0.0.1:5000", "Forwarded: for=192.0.2.60;proto=https;by=10.0.0.1\r\n", "192.0.2.60:0"},
		{"Forwarded chain", trusted, HeaderForwarded, "127.0.0.1:5000", "Forwarded: for=203.0.113.7, for=\"[2001:db9::17]:4711\", FOR=10.0.0.2\r\n", "[2001:db9::17]:0"},
		{"Forwarded unknown", trusted, HeaderForwarded, "127.0.0.1:5000", "Forwarded: for=unknown\r\n", "127.0.0.1:5000"},
		{"Forwarded obfuscated after trusted", trusted, HeaderForwarded, "127.0.0.1:5000", "Forwarded: for=_hidden, for=10.0.0.2\r\n", "10.0.0.2:0"},
		{"Forwarded element without for", trusted, HeaderForwarded, "127.0.0.1:5000", "Forwarded: proto=https\r\n", "127.0.0.1:5000"},
		{"Forwarded reads only Forwarded", trusted, HeaderForwarded, "127.0.0.1:5000", "X-Forwarded-For: 203.0.113.7\r\nForwarded: for=192.0.2.60\r\n", "192.0.2.60:0"},
		{"X-Forwarded-For reads only X-Forwarded-For", trusted, "", "127.0.0.1:5000", "Forwarded: for=203.0.113.7\r\nX-Forwarded-For: 192.0.2.60\r\n", "192.0.2.60:0"},
		{"X-Forwarded-For ignores Forwarded", trusted, "", "127.0.0.1:5000", "Forwarded: for=203.0.113.7\r\n", "127.0.0.1:5000"},
		{"X-Real-IP", trusted, "X-Real-IP", "127.0.0.1:5000", "X-Real-IP: 192.0.2.60\r\nX-Forwarded-For: 203.0.113.7\r\n", "192.0.2.60:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := codec.ParseRequest([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n" + tc.headers + "\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			peer := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.peer))
			header := tc.header
			if header == "" {
				header = HeaderForwardedFor
			}
			if got := clientAddr(tc.trusted, header, peer, &req).String(); got != tc.want {
				t.Errorf("client %s, want %s", got, tc.want)
			}
		})
	}
}
