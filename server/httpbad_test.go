package server_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// badMaxMessage is MaxMessage, the /send body limit, in the bad-input
// tests.
const badMaxMessage = 4 << 10

// TestHTTPBadInput covers the HTTP transports' rows of the bad-input
// table: each input gets its precise answer, and an SSE client on the
// same server receives every publication made around them, in order.
func TestHTTPBadInput(t *testing.T) {
	t.Parallel()
	timing := session.Config{Tick: 20 * time.Millisecond, HandshakeTimeout: 500 * time.Millisecond, CloseTimeout: time.Second}
	srv, addr := pushServer(t, nil, server.Config{
		Timing: timing, MaxMessage: badMaxMessage, MaxOutbound: 256 << 10, JSONP: true,
		Pages: map[string]server.Page{"/page": {ContentType: "text/plain", Body: []byte("page")}},
	})
	healthy := openStream(t, addr, "/sse?topic=healthy", "")
	healthy.expectStart("healthy", false)
	var published atomic.Int64
	publish := func(t *testing.T) {
		if _, err := srv.Hub().Publish("healthy", []byte("still here")); err != nil {
			t.Error(err)
		}
		published.Add(1)
	}
	// answered sends req on a new connection and expects status, then the
	// end of the connection.
	answered := func(req string, status int) func(t *testing.T) {
		return func(t *testing.T) {
			c := dialRaw(t, addr)
			c.write(req)
			method, _, _ := strings.Cut(req, " ")
			if resp, body := c.response(method); resp.StatusCode != status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, status)
			}
			c.expectEOF()
		}
	}
	post := func(headers, body string) string {
		return "POST /send?sid=1.1 HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n" + body
	}
	// A request in the body of another: answering it would put one
	// response too many on the connection, for the next request (of
	// another client, behind a proxy) to read.
	const smuggled = "GET /poll?topic=smuggled&wait=0 HTTP/1.1\r\n\r\n"
	forged := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"body over the limit, Content-Length", answered(post("Content-Length: "+strconv.Itoa(badMaxMessage+1)+"\r\n", ""), http.StatusRequestEntityTooLarge)},
		{"body over the limit, one chunk", answered(post("Transfer-Encoding: chunked\r\n", strconv.FormatInt(badMaxMessage+1, 16)+"\r\n"), http.StatusRequestEntityTooLarge)},
		{"body over the limit, many chunks", answered(post("Transfer-Encoding: chunked\r\n", strings.Repeat("400\r\n"+strings.Repeat("x", 0x400)+"\r\n", 5)), http.StatusRequestEntityTooLarge)},
		{"bad chunk size", answered(post("Transfer-Encoding: chunked\r\n", "zz\r\n"), http.StatusBadRequest)},
		{"chunk data without CRLF", answered(post("Transfer-Encoding: chunked\r\n", "1\r\nxyz\r\n"), http.StatusBadRequest)},
		{"bare LF in a chunk line", answered(post("Transfer-Encoding: chunked\r\n", "1\nx\r\n"), http.StatusBadRequest)},
		{"Content-Length and Transfer-Encoding", answered(post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), http.StatusBadRequest)},
		{"two Content-Lengths", answered(post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"), http.StatusBadRequest)},
		{"negative Content-Length", answered(post("Content-Length: -1\r\n", ""), http.StatusBadRequest)},
		{"gzip transfer coding", answered(post("Transfer-Encoding: gzip, chunked\r\n", ""), http.StatusBadRequest)},
		{"GET with a body", answered("GET /poll?topic=a&wait=0 HTTP/1.1\r\nContent-Length: "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled, http.StatusBadRequest)},
		{"GET with a chunked body", answered("GET /sse?topic=a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+strconv.FormatInt(int64(len(smuggled)), 16)+"\r\n"+smuggled+"\r\n0\r\n\r\n", http.StatusBadRequest)},
		{"page with a body", answered("GET /page HTTP/1.1\r\nContent-Length: "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled, http.StatusBadRequest)},
		{"OPTIONS with a body", answered("OPTIONS /poll HTTP/1.1\r\nContent-Length: "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled, http.StatusBadRequest)},
		{"malformed cursor", answered("GET /poll?cursor=!!! HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"forged cursor version", answered("GET /poll?cursor="+forged("\x02\x01a\x01e\x00")+" HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"forged cursor length", answered("GET /poll?cursor="+forged("\x01\x7fa")+" HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"forged cursor topic", answered("GET /poll?cursor="+forged("\x01\x02a b\x01e\x00")+" HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"forged cursor epoch", answered("GET /stream?cursor="+forged("\x01\x01a\x02e-\x00")+" HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"bad Last-Event-ID", answered("GET /sse HTTP/1.1\r\nLast-Event-ID: 42\r\n\r\n", http.StatusBadRequest)},
		{"hostile JSONP callback", answered("GET /poll?wait=0&callback=alert(1)%3Bx HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"hostile iframe callback", answered("GET /iframe?callback=a..b HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"bad topic", answered("GET /stream?topic=%00 HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"since without topic", answered("GET /sse?since=1&epoch=e HTTP/1.1\r\n\r\n", http.StatusBadRequest)},
		{"unknown sid", func(t *testing.T) {
			if status, body := send(t, addr, "1.1", `{"op":"subscribe","topic":"x"}`, false); status != http.StatusNotFound {
				t.Fatalf("status %d %q, want 404", status, body)
			}
		}},
		{"expired sid", func(t *testing.T) {
			s := openStream(t, addr, "/stream", "")
			s.close()
			// 202 until the server has seen the client leave; then 404.
			waitFor(t, "404 for the ended stream", func() bool {
				status, _ := send(t, addr, s.sid, `{"op":"subscribe","topic":"x"}`, false)
				return status == http.StatusNotFound
			})
		}},
		{"head that never completes", func(t *testing.T) {
			c := dialRaw(t, addr)
			c.write("GET /poll?topic=x HTTP/1.1\r\nHost: te")
			_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
			rest, err := io.ReadAll(c.nc)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("waiting for the handshake deadline: %v", err)
			}
			if len(rest) > 0 {
				t.Fatalf("a partial head was answered: %q", rest)
			}
		}},
		{"body that never completes", func(t *testing.T) {
			c := dialRaw(t, addr)
			c.write(post("Content-Length: 100\r\n", "{"))
			c.expectEOF()
		}},
		{"stream client that never reads", func(t *testing.T) {
			slow := dialRaw(t, addr)
			slow.write("GET /sse?topic=slow HTTP/1.1\r\nHost: test\r\n\r\n")
			waitFor(t, "the slow stream to subscribe", func() bool { return numbered(srv, "slow") })
			payload := bytes.Repeat([]byte("s"), 64<<10)
			evicted := func() uint64 { return srv.Hub().Totals().Evictions["slow_consumer"] }
			// The kernel's buffers take a few MB first, then the server
			// queues up to MaxOutbound.
			for i := 0; evicted() == 0; i++ {
				if i == 1024 {
					t.Fatal("64 MiB published and the client not evicted")
				}
				if _, err := srv.Hub().Publish("slow", payload); err != nil && !errors.Is(err, session.ErrBacklog) {
					t.Fatal(err)
				}
				if i%16 == 15 {
					waitFor(t, "the publications to be written", func() bool { return backlog(srv) == 0 })
				}
			}
			waitFor(t, "the slow stream to end", func() bool { return !numbered(srv, "slow") })
		}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				publish(t)
				tc.run(t)
				publish(t)
			})
		}
	})
	if n := srv.Hub().Totals().Evictions["slow_consumer"]; n != 1 {
		t.Errorf("%d slow-consumer evictions, want 1", n)
	}
	n := int(published.Load())
	for i := range n {
		if o := healthy.must(); !o.isPub() || o.topic() != "healthy" || o.Offset != uint64(i+1) || string(o.payload()) != "still here" {
			t.Fatalf("healthy client, publication %d of %d: %v", i+1, n, o)
		}
	}
}

// TestHeldPollVanished: a held poll whose client goes away is freed at
// once: its session and connection are gone, and the topic has no
// subscriber left.
func TestHeldPollVanished(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 1})
	for range 3 {
		c := dialRaw(t, addr)
		c.write("GET /poll?topic=vanish HTTP/1.1\r\nHost: test\r\n\r\n")
		waitFor(t, "the poll to be held", func() bool { return sessions(srv) == 1 })
		c.nc.Close()
		waitFor(t, "the poll to be freed", func() bool {
			tot := srv.Hub().Totals()
			return tot.Sessions == 0 && tot.Connections == 0 && !numbered(srv, "vanish")
		})
	}
}

// TestFlashPolicy: the Flash socket policy request gets the policy, which
// ends with a NUL byte, then the end of the connection; also when the
// request arrives in pieces.
func TestFlashPolicy(t *testing.T) {
	t.Parallel()
	_, defAddr := pushServer(t, nil, server.Config{})
	_, cfgAddr := pushServer(t, nil, server.Config{FlashPolicy: &server.FlashPolicy{
		Domains: []string{"a.example", `"q"<`}, Ports: "843",
	}})
	_, port, _ := strings.Cut(defAddr, ":")
	cases := []struct {
		name, addr string
		writes     []string
		want       []string
	}{
		{"default", defAddr, []string{codec.PolicyRequest}, []string{`domain="*" to-ports="` + port + `"`}},
		{"in pieces", defAddr, []string{"<policy-", "file-request/>", "\x00"}, []string{`domain="*"`}},
		{"configured", cfgAddr, []string{codec.PolicyRequest}, []string{
			`domain="a.example" to-ports="843"`, `domain="&quot;q&quot;&lt;" to-ports="843"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, tc.addr)
			for _, w := range tc.writes {
				c.write(w)
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
			got, err := io.ReadAll(c.br)
			if err != nil {
				t.Fatalf("%v after %q", err, got)
			}
			if !bytes.HasPrefix(got, []byte("<?xml")) || !bytes.HasSuffix(got, []byte("</cross-domain-policy>\x00")) {
				t.Fatalf("policy %q", got)
			}
			for _, w := range tc.want {
				if !bytes.Contains(got, []byte(w)) {
					t.Fatalf("policy %q lacks %s", got, w)
				}
			}
		})
	}
}

// numbered reports whether the server numbers topic: without history,
// while some session subscribes to it.
func numbered(srv *server.Server, topic string) bool {
	epoch, _ := srv.Hub().Position(topic)
	return epoch != ""
}

// backlog returns the bytes of publications the server has yet to write.
func backlog(srv *server.Server) (n int64) {
	for _, sh := range server.Shards(srv) {
		n += sh.Backlog()
	}
	return n
}
