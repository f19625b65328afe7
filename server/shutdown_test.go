package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// shutdownSlack is what Shutdown may take beyond DrainTimeout: the engine's
// stop (milliseconds, bounded by server.EngineStopGrace) and the drain's
// polling.
const shutdownSlack = server.EngineStopGrace + 500*time.Millisecond

// shutdownAsync runs Shutdown with a context of d and reports its result
// and duration.
func shutdownAsync(srv *server.Server, d time.Duration) <-chan shutdownResult {
	done := make(chan shutdownResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		began := time.Now()
		err := srv.Shutdown(ctx)
		done <- shutdownResult{err, time.Since(began)}
	}()
	return done
}

type shutdownResult struct {
	err  error
	took time.Duration
}

// TestDrainAnswers503: while the server drains, the listener stays open and
// a request gets 503 with Retry-After, an upgrade as well as a page, in
// plain text; an Engine.IO handshake in Engine.IO's JSON shape.
func TestDrainAnswers503(t *testing.T) {
	t.Parallel()
	timing := fastTiming
	timing.CloseTimeout = wstest.Timeout // the held client keeps the drain going
	srv := server.New(&echoHandler{}, &server.Config{
		Addr: "127.0.0.1:0", Loops: 2, Timing: timing, DrainTimeout: 2 * wstest.Timeout, DrainSpread: -1,
		Pages:  map[string]server.Page{"/": {ContentType: "text/plain", Body: []byte("page")}},
		Engine: &server.EngineConfig{Path: "/engine.io/", Handler: &echoHandler{}},
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	held := wstest.Upgrade(t, addr, "/ws")
	done := shutdownAsync(srv, 2*wstest.Timeout)
	if _, err := held.ReadToClose(codec.StatusGoingAway); err != nil {
		t.Fatal(err)
	}
	// The server drains now: it waits for held's close frame.
	const plain = "server shutting down\n"
	cases := []struct{ name, req, body string }{
		{"upgrade", wstest.Request("/ws", ""), plain},
		{"page", "GET / HTTP/1.1\r\nHost: test\r\n\r\n", plain},
		{"Engine.IO handshake", "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: test\r\n\r\n",
			`{"code":104,"message":"server shutting down"}`},
	}
	for _, tc := range cases {
		c := wstest.Dial(t, addr)
		c.Write([]byte(tc.req))
		resp := c.Response()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || err != nil || string(body) != tc.body {
			t.Fatalf("%s while draining: %d %q (%v), Retry-After %q; want 503 %q with Retry-After",
				tc.name, resp.StatusCode, body, err, resp.Header.Get("Retry-After"), tc.body)
		}
		c.ExpectEOF()
		c.Net().Close() // as an HTTP client does after "Connection: close"
	}
	held.Write(wstest.Close(codec.StatusGoingAway, ""))
	held.ExpectEOF()
	if r := <-done; r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
}

// TestShutdownDeafClients: clients that never answer the close frame do not
// hold Shutdown past DrainTimeout (plus a small slack); those that read get
// 1001; and once the server is down, sessions refuse sends from other
// goroutines instead of queuing them for a loop that is gone.
func TestShutdownDeafClients(t *testing.T) {
	t.Parallel()
	const drain = time.Second
	timing := fastTiming
	timing.CloseTimeout = 10 * wstest.Timeout // the server never drops them by itself
	g := newGrabber()
	srv := server.New(g, &server.Config{Addr: "127.0.0.1:0", Loops: 2, Timing: timing, DrainTimeout: drain})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	readers := make([]*wstest.Conn, 4)
	for i := range readers {
		readers[i] = wstest.Upgrade(t, addr, "/ws")
		<-g.opened
	}
	for range 4 { // deaf: they never read
		wstest.Upgrade(t, addr, "/ws")
		<-g.opened
	}
	answering := wstest.Upgrade(t, addr, "/ws")
	sess := <-g.opened

	done := shutdownAsync(srv, 10*wstest.Timeout)
	if _, err := answering.ReadToClose(codec.StatusGoingAway); err != nil {
		t.Fatal(err)
	}
	answering.Write(wstest.Close(codec.StatusGoingAway, ""))
	for i, c := range readers {
		if _, err := c.ReadToClose(codec.StatusGoingAway); err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
	if r.took > drain+shutdownSlack {
		t.Fatalf("shutdown took %v, more than DrainTimeout %v plus %v", r.took, drain, shutdownSlack)
	}
	if r.took < drain {
		t.Fatalf("shutdown took %v: it did not wait DrainTimeout (%v) for the deaf clients", r.took, drain)
	}
	if err := sess.Send(codec.OpText, []byte("late")); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("send after shutdown: %v, want session.ErrClosed", err)
	}
}

// TestDrainSpread: by default a shutdown closes sessions in several
// batches spread over time, not all at once (DESIGN.md: drained with
// jitter), each batch a share of the loop's sessions.
func TestDrainSpread(t *testing.T) {
	t.Parallel()
	const clients = 40
	srv := server.New(&echoHandler{}, &server.Config{Addr: "127.0.0.1:0", Loops: 1, Timing: fastTiming, DrainTimeout: 2 * time.Second})
	var mu sync.Mutex
	var batches []int // sessions closed by each batch that closed any
	server.SetDrainHook(srv, func(_, _, closed int) {
		mu.Lock()
		defer mu.Unlock()
		if closed > 0 {
			batches = append(batches, closed)
		}
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	conns := make([]*wstest.Conn, clients)
	for i := range conns {
		conns[i] = wstest.Upgrade(t, addr, "/ws")
	}
	done := shutdownAsync(srv, 10*time.Second)
	errs := make(chan error, clients)
	for _, c := range conns {
		go func() {
			_, err := c.ReadToClose(codec.StatusGoingAway)
			if err == nil {
				_, err = c.Net().Write(wstest.Close(codec.StatusGoingAway, ""))
			}
			errs <- err
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r := <-done; r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range batches {
		total += n
		if n > clients/2 {
			t.Errorf("one batch closed %d of %d sessions", n, clients)
		}
	}
	if total != clients || len(batches) < server.DrainSteps/2 {
		t.Fatalf("batches %v: want %d sessions closed over at least %d batches", batches, clients, server.DrainSteps/2)
	}
}

// TestDrainIgnoresLateClients: a client that arrives during the drain, is
// answered 503 and keeps its connection open does not hold Shutdown: it
// waits for the sessions, not for every connection.
func TestDrainIgnoresLateClients(t *testing.T) {
	t.Parallel()
	const drainTimeout = 60 * time.Second // far beyond anything but the bug
	timing := fastTiming
	timing.CloseTimeout = drainTimeout // the late client would linger throughout
	srv := server.New(&echoHandler{}, &server.Config{
		Addr: "127.0.0.1:0", Loops: 1, Timing: timing, DrainTimeout: drainTimeout, DrainSpread: -1,
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	held := wstest.Upgrade(t, addr, "/ws")
	done := shutdownAsync(srv, 2*drainTimeout)
	if _, err := held.ReadToClose(codec.StatusGoingAway); err != nil {
		t.Fatal(err)
	}
	late := wstest.Dial(t, addr) // stays open, never reads past the 503
	late.Write([]byte(wstest.Request("/ws", "")))
	if resp := late.Response(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("late client: %d", resp.StatusCode)
	}
	held.Write(wstest.Close(codec.StatusGoingAway, "")) // the last session ends
	r := <-done
	if r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
	if r.took >= drainTimeout {
		t.Fatalf("shutdown took %v: it waited for the late client's connection", r.took)
	}
}
