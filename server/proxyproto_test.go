package server_test

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// addrRecorder is a handler that remembers the client address of each
// request it accepts.
type addrRecorder struct {
	echoHandler
	mu    sync.Mutex
	addrs []string
}

func newAddrRecorder() *addrRecorder {
	h := &addrRecorder{}
	h.connect = func(r *server.Request) error {
		ip := netip.MustParseAddrPort(r.RemoteAddr().String()).Addr()
		h.mu.Lock()
		h.addrs = append(h.addrs, ip.String())
		h.mu.Unlock()
		return nil
	}
	return h
}

func (h *addrRecorder) last(t testing.TB) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.addrs) == 0 {
		t.Fatal("no request accepted")
	}
	return h.addrs[len(h.addrs)-1]
}

// dialRawFrom dials addr from the loopback address src.
func dialRawFrom(t testing.TB, src, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: wstest.Timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func proxyHeader(version uint8, src string) string {
	h := codec.ProxyHeader{Version: version, Local: true}
	if src != "" {
		source, dest := netip.MustParseAddrPort(src), netip.MustParseAddrPort("127.0.0.1:8080")
		if source.Addr().Is6() {
			dest = netip.MustParseAddrPort("[::1]:8080")
		}
		h = codec.ProxyHeader{Version: version, Source: source, Dest: dest}
	}
	return string(codec.AppendProxyHeader(nil, h))
}

const pollWait0 = "GET /poll?topic=t&wait=0 HTTP/1.1\r\nHost: x\r\n\r\n"

// proxyEvictions counts the connections refused for their PROXY protocol
// header.
func proxyEvictions(srv *server.Server) uint64 {
	return srv.Hub().Totals().Evictions["proxy_protocol"]
}

// TestProxyProtocol: a trusted proxy's header, version 1 or 2, names the
// client for the request and those that follow on the connection, fed at
// once or a byte at a time; malformed headers, a missing one where it is
// required and one from a peer that is not trusted are refused with 400
// and counted, and the server keeps serving.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, mode := range []server.ProxyProtocol{server.ProxyProtocolOptional, server.ProxyProtocolRequired} {
		h := newAddrRecorder()
		srv, addr := start(t, h, server.Config{TrustedProxies: trusted, ProxyProtocol: mode, PollTimeout: time.Second})
		refused := uint64(0)
		for _, tc := range []struct {
			name, from, in string
			status         int // 0: the request is served
			client         string
		}{
			{"v1", "127.0.0.1", proxyHeader(1, "192.0.2.1:4711") + pollWait0, 0, "192.0.2.1"},
			{"v2", "127.0.0.1", proxyHeader(2, "192.0.2.2:4711") + pollWait0, 0, "192.0.2.2"},
			{"v1 IPv6", "127.0.0.1", proxyHeader(1, "[2001:db8::1]:4711") + pollWait0, 0, "2001:db8::1"},
			{"v2 IPv6", "127.0.0.1", proxyHeader(2, "[2001:db8::2]:4711") + pollWait0, 0, "2001:db8::2"},
			{"v2 LOCAL", "127.0.0.1", proxyHeader(2, "") + pollWait0, 0, "127.0.0.1"},
			{"v1 UNKNOWN", "127.0.0.1", proxyHeader(1, "") + pollWait0, 0, "127.0.0.1"},
			{"malformed v1", "127.0.0.1", "PROXY TCP4 192.0.2.1 x 1 2\r\n" + pollWait0, 400, ""},
			{"malformed v2", "127.0.0.1", "\r\n\r\n\x00\r\nQUIT\n\x99\x11\x00\x0c" + pollWait0, 400, ""},
			{"v1 line never ends", "127.0.0.1", "PROXY TCP4 " + strings.Repeat("1", 200), 400, ""},
			{"untrusted peer with a header", "127.0.0.2", proxyHeader(1, "192.0.2.3:4711") + pollWait0, 400, ""},
			{"untrusted peer without one", "127.0.0.2", pollWait0, 0, "127.0.0.2"},
			{"trusted peer without one", "127.0.0.1", pollWait0, 0, "127.0.0.1"},
		} {
			if tc.name == "trusted peer without one" && mode == server.ProxyProtocolRequired {
				tc.status = 400
			}
			for _, split := range []bool{false, true} {
				c := dialRawFrom(t, tc.from, addr)
				if split {
					for i := range len(tc.in) {
						c.write(tc.in[i : i+1])
					}
				} else {
					c.write(tc.in)
				}
				resp, body := c.response(http.MethodGet)
				if tc.status != 0 {
					refused++
					if resp.StatusCode != tc.status || !strings.Contains(string(body), "PROXY protocol") {
						t.Fatalf("mode %d %s: %d %q, want %d", mode, tc.name, resp.StatusCode, body, tc.status)
					}
					c.expectEOF()
					continue
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("mode %d %s: %d %q", mode, tc.name, resp.StatusCode, body)
				}
				if got := h.last(t); got != tc.client {
					t.Fatalf("mode %d %s: client %s, want %s", mode, tc.name, got, tc.client)
				}
				// The next request on the connection: the same client.
				c.write(pollWait0)
				if resp, _ := c.response(http.MethodGet); resp.StatusCode != http.StatusOK {
					t.Fatalf("mode %d %s: second request %d", mode, tc.name, resp.StatusCode)
				}
				if got := h.last(t); got != tc.client {
					t.Fatalf("mode %d %s: second request's client %s, want %s", mode, tc.name, got, tc.client)
				}
			}
		}
		if got := proxyEvictions(srv); got != refused {
			t.Fatalf("mode %d: %d refusals counted, want %d", mode, got, refused)
		}
	}
}

// TestProxyProtocolLimits: the per-address limit counts the client the
// header names, not the proxy: two clients behind one proxy each get
// their slot, and a second connection of the same client is refused.
func TestProxyProtocolLimits(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		ProxyProtocol:  server.ProxyProtocolRequired,
		MaxConnsPerIP:  1,
	})
	upgrade := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for _, tc := range []struct {
		client string
		want   int
	}{
		{"192.0.2.1:1", http.StatusSwitchingProtocols},
		{"192.0.2.2:1", http.StatusSwitchingProtocols},
		{"192.0.2.1:2", http.StatusTooManyRequests},
	} {
		c := dialRaw(t, addr)
		c.write(proxyHeader(2, tc.client) + upgrade)
		if resp, _ := c.response(http.MethodGet); resp.StatusCode != tc.want {
			t.Fatalf("%s: %d, want %d", tc.client, resp.StatusCode, tc.want)
		}
	}
}
