package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Engine.IO sessions under the per-client limits of the other transports.

// eioEvictions returns the server's refusals and evictions for r.
func eioEvictions(srv *server.Server, r session.Reason) (n uint64) {
	for _, sh := range server.Shards(srv) {
		n += sh.Stats().Evictions(r)
	}
	return n
}

// eioGet makes an Engine.IO GET with query on a TCP connection of its
// own and returns the response and its body. The request is written by
// hand and the answer read whatever came first: a refusal at capacity is
// sent before the server reads the request, which net/http's client
// takes for a broken connection when it wins the race with its write.
func eioGet(t *testing.T, base, query string) (*http.Response, []byte) {
	t.Helper()
	nc, host := rawDial(t, base)
	_ = nc.SetDeadline(time.Now().Add(wstest.Timeout))
	// An answer already sent ends nothing here: the server's lingering
	// close still reads what the client writes.
	_, _ = fmt.Fprintf(nc, "GET /engine.io/?%s HTTP/1.1\r\nHost: %s\r\n\r\n", query, host)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", query, err)
	}
	return resp, b
}

// eioGetRaw makes an Engine.IO GET with query and returns its status,
// body and Retry-After header.
func eioGetRaw(t *testing.T, base, query string) (int, string, string) {
	t.Helper()
	resp, b := eioGet(t, base, query)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

// wantEIORefusal GETs the Engine.IO path with query and checks the answer
// of a limit: status, Retry-After, and the reference's JSON shape with c1m's
// code and message, the connection closed.
func wantEIORefusal(t *testing.T, base, query string, status int, body string) {
	t.Helper()
	resp, b := eioGet(t, base, query)
	if resp.StatusCode != status || string(b) != body || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Content-Type") != "application/json" || !resp.Close {
		t.Fatalf("GET ?%s: %d %q, Retry-After %q, Content-Type %q, close %v; want %d %q, 1, application/json, close",
			query, resp.StatusCode, b, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), resp.Close, status, body)
	}
}

// TestEIOConnsPerIP: polling and WebSocket Engine.IO sessions hold their
// address's slot of MaxConnsPerIP for their whole life (a polling one
// holds no connection between its polls); over the cap a handshake gets
// 429 with Retry-After, counted; a session that ends frees its slot.
func TestEIOConnsPerIP(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{MaxConnsPerIP: 2})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws) // the open packet
	wantEIORefusal(t, base, "EIO=4&transport=polling", http.StatusTooManyRequests,
		`{"code":100,"message":"too many connections from your address"}`)
	if n := eioEvictions(srv, session.ReasonPerIPLimit); n != 1 {
		t.Fatalf("%d per-IP refusals counted, want 1", n)
	}
	// The polling session's polls and posts take no slot of their own.
	if status, body := c.post(sid, "4x"); status != 200 || body != "ok" {
		t.Fatalf("post: %d %q", status, body)
	}
	if status, body := c.get(sid); status != 200 || body != "4x" {
		t.Fatalf("poll: %d %q", status, body)
	}
	// The client closes the polling session: its slot is free.
	if status, _ := c.post(sid, "1"); status != 200 {
		t.Fatalf("close packet: %d", status)
	}
	h.nextClose(t)
	c.handshake()
	if status, _, _ := eioGetRaw(t, base, "EIO=4&transport=polling"); status != http.StatusTooManyRequests {
		t.Fatalf("one over the cap again: %d", status)
	}
	// The WebSocket session's ends with its connection.
	ws.Close()
	h.nextClose(t)
	c.handshake()
}

// TestEIOPollsPerIP: an Engine.IO poll holds a slot of MaxPollsPerIP
// while it is held; over the cap a poll gets 429 with Retry-After,
// counted, and its session goes on; an answered poll frees its slot.
func TestEIOPollsPerIP(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{MaxPollsPerIP: 1})
	c := newEIOClient(t, base, true)
	a, _ := c.handshake()
	b, _ := c.handshake()
	nc, br := rawGet(t, base, a)
	heldPolls(t, srv, 1)
	wantEIORefusal(t, base, "EIO=4&transport=polling&sid="+b, http.StatusTooManyRequests,
		`{"code":102,"message":"`+server.ReasonPollLimit+`"}`)
	if n := eioEvictions(srv, session.ReasonPollsPerIP); n != 1 {
		t.Fatalf("%d poll refusals counted, want 1", n)
	}
	if status, _ := c.post(a, "4for a"); status != 200 {
		t.Fatalf("post: %d", status)
	}
	if status, body := readRaw(t, nc, br); status != 200 || body != "4for a" {
		t.Fatalf("the held poll: %d %q", status, body)
	}
	if status, _ := c.post(b, "4for b"); status != 200 {
		t.Fatalf("post: %d", status)
	}
	if status, body := c.get(b); status != 200 || body != "4for b" {
		t.Fatalf("b's poll once a's was answered: %d %q", status, body)
	}
}

// TestEIOUserLimit: the user that OnConnect sets holds a slot of
// MaxConnsPerUser for the session's life, on polling and on WebSocket;
// over the cap the handshake gets 429 with Retry-After and the reference
// server's refusal shape, counted.
func TestEIOUserLimit(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(r *server.Request) error {
		r.SetUser(r.Query().Get("user"))
		return nil
	}
	srv, base := eioServer(t, h, server.Config{MaxConnsPerUser: 1})
	c := newEIOClient(t, base, true)
	status, body, _ := c.do(http.MethodGet, "EIO=4&transport=polling&user=ann", "")
	if status != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("ann's first: %d %q", status, body)
	}
	status, body, retry := eioGetRaw(t, base, "EIO=4&transport=polling&user=ann")
	if status != http.StatusTooManyRequests || retry != "1" || body != `{"code":4,"message":"`+server.ReasonUserLimit+`"}` {
		t.Fatalf("ann's second: %d %q, Retry-After %q", status, body, retry)
	}
	if status, _, _ := c.do(http.MethodGet, "EIO=4&transport=polling&user=bob", ""); status != 200 {
		t.Fatalf("bob's: %d", status)
	}
	if _, resp, err := dialFrom("127.0.0.1").Dial(strings.Replace(base, "http", "ws", 1)+"?EIO=4&transport=websocket&user=ann", nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("ann's WebSocket: %v", err)
	}
	if n := eioEvictions(srv, session.ReasonPerUserLimit); n != 2 {
		t.Fatalf("%d per-user refusals counted, want 2", n)
	}
}

// TestEIOHandshakeRate: Engine.IO handshakes, polling and WebSocket, are
// charged to HandshakeRate; the session's own requests are not.
func TestEIOHandshakeRate(t *testing.T) {
	t.Parallel()
	srv, base := eioServer(t, newEIOEvents(), server.Config{HandshakeRate: 0.01, HandshakeBurst: 2})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	for i := range 3 {
		if status, _ := c.post(sid, "4x"); status != 200 {
			t.Fatalf("post %d: %d", i, status)
		}
		if status, _ := c.get(sid); status != 200 {
			t.Fatalf("poll %d: %d", i, status)
		}
	}
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	wantEIORefusal(t, base, "EIO=4&transport=polling", http.StatusTooManyRequests,
		`{"code":101,"message":"too many requests from your address"}`)
	if n := eioEvictions(srv, session.ReasonHandshakeRate); n != 1 {
		t.Fatalf("%d handshake-rate refusals counted, want 1", n)
	}
}

// TestEIOAtCapacity: over MaxConns, a server that serves Engine.IO answers
// a connection 503 with Retry-After in Engine.IO's shape, before it reads
// the request, and closes it; counted.
func TestEIOAtCapacity(t *testing.T) {
	t.Parallel()
	srv, base := eioServer(t, newEIOEvents(), server.Config{MaxConns: 1})
	held := wstest.Dial(t, strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/engine.io/"))
	defer held.Net().Close()
	waitFor(t, "the held connection", func() bool { return srv.Connections() == 1 })
	wantEIORefusal(t, base, "EIO=4&transport=polling", http.StatusServiceUnavailable,
		`{"code":103,"message":"server at capacity"}`)
	if n := eioEvictions(srv, session.ReasonOverCapacity); n != 1 {
		t.Fatalf("%d refusals at capacity counted, want 1", n)
	}
}
