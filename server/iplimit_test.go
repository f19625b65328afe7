package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// dialFrom returns a gorilla dialer whose connections leave from ip.
func dialFrom(ip string) *websocket.Dialer {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second}
}

func perIPRefusals(srv *server.Server) (n uint64) {
	for _, sh := range server.Shards(srv) {
		n += sh.Stats().Evictions(session.ReasonPerIPLimit)
	}
	return n
}

// TestMaxConnsPerIP: 1,000 upgrades from one address against a cap of 100
// while the accepted ones stay open: exactly 100 succeed, the rest get 429
// with Retry-After; a closed connection frees its slot; another address is
// not affected.
func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	const limit, attempts, workers = 100, 1000, 8
	srv, addr := start(t, nil, server.Config{MaxConnsPerIP: limit})
	url := "ws://" + addr + "/ws"
	one := dialFrom("127.0.0.1")

	var (
		mu      sync.Mutex
		open    []*websocket.Conn
		refused int
		other   []error
	)
	t.Cleanup(func() {
		for _, c := range open {
			_ = c.Close()
		}
	})
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				c, resp, err := one.DialContext(context.Background(), url, nil)
				mu.Lock()
				switch {
				case err == nil:
					open = append(open, c)
				case errors.Is(err, websocket.ErrBadHandshake) && resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "1":
					refused++
				default:
					other = append(other, err)
				}
				mu.Unlock()
			}
		}()
	}
	for range attempts {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d attempts failed otherwise, first: %v", len(other), other[0])
	}
	if len(open) != limit || refused != attempts-limit {
		t.Fatalf("%d upgrades, %d refused with 429; want %d and %d", len(open), refused, limit, attempts-limit)
	}
	if n := perIPRefusals(srv); n != attempts-limit {
		t.Fatalf("per_ip_limit counted %d, want %d", n, attempts-limit)
	}

	// Another address has its own count.
	for i := range 3 {
		c, _, err := dialFrom("127.0.0.2").DialContext(context.Background(), url, nil)
		if err != nil {
			t.Fatalf("upgrade %d from 127.0.0.2: %v", i, err)
		}
		open = append(open, c)
	}

	// Closing ten frees ten slots, once the server has seen them go.
	for _, c := range open[:10] {
		_ = c.Close()
	}
	open = open[10:]
	waitFor(t, "the closed connections to end", func() bool { return srv.Connections() <= limit-10+3 })
	for i := range 10 {
		c, _, err := one.DialContext(context.Background(), url, nil)
		if err != nil {
			t.Fatalf("upgrade %d after closing: %v", i, err)
		}
		open = append(open, c)
	}
	if _, resp, err := one.DialContext(context.Background(), url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("upgrade over the cap again: %v, want 429", err)
	}
}

// TestMaxConnsPerIPHTTP: a kept-alive connection counts once, request after
// request, and a stream held open takes the address's only slot, so that
// another connection's stream is refused with 429 before it starts.
func TestMaxConnsPerIPHTTP(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{MaxConnsPerIP: 1})
	get := func(c net.Conn, r *bufio.Reader, target string) *http.Response {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, addr); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return resp
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}

	a, ra := dial()
	for i := range 3 {
		resp := get(a, ra, "/poll?topic=t&wait=0")
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("poll %d on one kept-alive connection: %s", i, resp.Status)
		}
	}
	if resp := get(a, ra, "/sse?topic=t"); resp.StatusCode != http.StatusOK {
		t.Fatalf("stream after the polls: %s", resp.Status)
	}
	b, rb := dial()
	resp := get(b, rb, "/sse?topic=t")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("a second stream from the address: %s, Retry-After %q; want 429 and 1", resp.Status, resp.Header.Get("Retry-After"))
	}
}

// TestHandshakeRate: upgrades from one address past the burst get 429
// with Retry-After; another address has its own bucket.
func TestHandshakeRate(t *testing.T) {
	t.Parallel()
	const burst, attempts = 5, 30
	srv, addr := start(t, nil, server.Config{HandshakeRate: 0.5, HandshakeBurst: burst})
	url := "ws://" + addr + "/ws"
	var ok, refused int
	for range attempts {
		c, resp, err := dialFrom("127.0.0.1").DialContext(context.Background(), url, nil)
		switch {
		case err == nil:
			ok++
			_ = c.Close()
		case errors.Is(err, websocket.ErrBadHandshake) && resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "1":
			refused++
		default:
			t.Fatal(err)
		}
	}
	// The burst, and at most one more if the loop took over 2 s.
	if ok < burst || ok > burst+1 || ok+refused != attempts {
		t.Fatalf("%d upgrades and %d refused, want %d (or one more) and the rest", ok, refused, burst)
	}
	var counted uint64
	for _, sh := range server.Shards(srv) {
		counted += sh.Stats().Evictions(session.ReasonHandshakeRate)
	}
	if counted != uint64(refused) {
		t.Fatalf("handshake_rate counted %d, want %d", counted, refused)
	}
	c, _, err := dialFrom("127.0.0.2").DialContext(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("upgrade from 127.0.0.2: %v", err)
	}
	_ = c.Close()
}
