package server_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestNoGoroutinePerConnection holds 5,000 idle WebSocket connections and
// checks that the goroutine count does not grow with them.
func TestNoGoroutinePerConnection(t *testing.T) {
	const conns = 5000
	srv, addr := start(t, nil, server.Config{})
	before := runtime.NumGoroutine()
	req := []byte(wstest.Request("/ws", ""))
	resp := make([]byte, 129) // the exact size of our 101 answer
	held := make([]net.Conn, 0, conns)
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		held = append(held, c)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
		if _, err := c.Read(resp); err != nil || string(resp[9:12]) != "101" {
			t.Fatalf("conn %d: %q %v", i, resp, err)
		}
	}
	if got := srv.Connections(); got != conns {
		t.Fatalf("server counts %d connections, want %d", got, conns)
	}
	after := runtime.NumGoroutine()
	// The client side of a net.Conn that nobody reads holds no goroutine
	// either, so any growth here is the server's.
	if grew := after - before; grew > 20 {
		t.Fatalf("goroutines grew by %d for %d connections (before %d, after %d)", grew, conns, before, after)
	}
	t.Logf("%d connections: goroutines %d -> %d", conns, before, after)
}

// sessionGrabber records the open session for a test to act on it from
// outside the loop.
type sessionGrabber struct {
	server.BuiltinHandler
	opened chan *server.Session
	closed chan server.StatusCode
}

func newGrabber() *sessionGrabber {
	return &sessionGrabber{opened: make(chan *server.Session, 16), closed: make(chan server.StatusCode, 16)}
}

func (g *sessionGrabber) OnOpen(s *server.Session) { g.opened <- s }
func (g *sessionGrabber) OnClose(_ *server.Session, code server.StatusCode, _ string) {
	g.closed <- code
}

// TestSendFromOtherGoroutines: Send from many goroutines goes through the
// shard's inbox; each goroutine's messages arrive in order, none is lost.
func TestSendFromOtherGoroutines(t *testing.T) {
	t.Parallel()
	g := newGrabber()
	_, addr := start(t, g, server.Config{})
	c := wstest.Upgrade(t, addr, "/ws")
	s := <-g.opened
	const senders, each = 4, 200
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Send(codec.OpText, fmt.Appendf(nil, "%d:%d", w, i)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]int, senders)
	for range senders * each {
		f := c.MustFrame()
		var w, i int
		if _, err := fmt.Sscanf(string(f.Payload), "%d:%d", &w, &i); err != nil {
			t.Fatalf("bad payload %q", f.Payload)
		}
		if i != next[w] {
			t.Fatalf("sender %d: got message %d, want %d", w, i, next[w])
		}
		next[w]++
	}
}

// TestKeepalive: a silent client gets a ping; one that answers stays, one
// that does not is closed at the pong deadline.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	g := newGrabber()
	timing := fastTiming
	timing.PingInterval = 100 * time.Millisecond
	// The pong deadline leaves a loaded machine time to run the alive
	// client's answers; the dead client only waits it out once.
	timing.PongTimeout = time.Second
	_, addr := start(t, g, server.Config{Timing: timing})

	alive := wstest.Upgrade(t, addr, "/ws")
	<-g.opened
	for range 3 {
		if f := alive.MustFrame(); f.Op != codec.OpPing {
			t.Fatalf("got %v, want a ping", f)
		}
		alive.Write(wstest.Masked(true, 0, codec.OpPong, nil))
	}

	dead := wstest.Upgrade(t, addr, "/ws")
	<-g.opened
	if f := dead.MustFrame(); f.Op != codec.OpPing {
		t.Fatalf("got %v, want a ping", f)
	}
	dead.ExpectClose(codec.StatusGoingAway) // "ping timeout", then the close deadline
	if code := <-g.closed; code != codec.StatusAbnormalClosure {
		t.Fatalf("OnClose code %d, want 1006 for a peer that never closed", code)
	}
	alive.Write(wstest.Text("x"))
	if f := alive.MustFrame(); f.Op != codec.OpPing && f.Op != codec.OpText {
		t.Fatalf("alive client got %v", f)
	}
}

// TestSlowConsumer: a client that stops reading is closed once its queued
// output passes the cap, while the server never holds more than the cap for
// it; a reading client on the same server keeps receiving.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	const capBytes = 256 << 10
	g := newGrabber()
	srv, addr := start(t, g, server.Config{MaxOutbound: capBytes, Loops: 1, Timing: fastTiming})
	slow := wstest.Upgrade(t, addr, "/ws")
	slowSess := <-g.opened
	_ = slow.Net().(*net.TCPConn).SetReadBuffer(4 << 10)
	fast := wstest.Upgrade(t, addr, "/ws")
	fastSess := <-g.opened

	// The test goroutine sends through the inbox; the inbox backlog cap
	// (session.ErrBacklog) and the outbound cap both bound what the server
	// holds. Stop at the eviction.
	payload := make([]byte, 16<<10)
	var code server.StatusCode
	sent, backlog := 0, 0
send:
	for i := 0; i < 20_000; i++ {
		select {
		case code = <-g.closed:
			break send
		default:
		}
		switch err := slowSess.Send(codec.OpBinary, payload); err {
		case nil:
			sent++
		case session.ErrBacklog:
			backlog++
			runtime.Gosched()
		default:
			t.Fatalf("send: %v", err)
		}
		if i%64 == 0 {
			if err := fastSess.Send(codec.OpText, []byte("tick")); err != nil {
				t.Fatalf("fast session: %v", err)
			}
			if f := fast.MustFrame(); string(f.Payload) != "tick" {
				t.Fatalf("fast client got %v", f)
			}
		}
	}
	if code == 0 {
		select {
		case code = <-g.closed:
		case <-time.After(wstest.Timeout):
			t.Fatalf("slow client not evicted after %d sends of %d bytes", sent, len(payload))
		}
	}
	t.Logf("evicted after %d sends (%d refused for backlog)", sent, backlog)
	if code != codec.StatusAbnormalClosure && code != codec.StatusPolicyViolation {
		t.Fatalf("OnClose code %d", code)
	}
	var ev uint64
	for _, sh := range server.Shards(srv) {
		ev += sh.Stats().Evictions(session.ReasonSlowConsumer)
		// Frame headers count too: a 16 KiB payload has a 4-byte header.
		if peak := sh.Stats().OutboundPeak.Load(); peak > capBytes+codec.MaxHeaderSize {
			t.Fatalf("server queued %d bytes for one client, cap %d", peak, capBytes)
		} else {
			t.Logf("outbound peak %d bytes, cap %d", peak, capBytes)
		}
	}
	if ev == 0 {
		t.Fatal("no slow-consumer eviction counted")
	}
	if err := fastSess.Send(codec.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if f := fast.MustFrame(); string(f.Payload) != "still here" {
		t.Fatalf("fast client got %v", f)
	}
}

// TestShutdown: every client gets close 1001 and Shutdown returns once they
// are gone.
func TestShutdown(t *testing.T) {
	t.Parallel()
	srv := server.New(&echoHandler{}, &server.Config{Addr: "127.0.0.1:0", Loops: 2, Timing: fastTiming})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	clients := make([]*wstest.Conn, 20)
	for i := range clients {
		clients[i] = wstest.Upgrade(t, addr, "/ws")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for _, c := range clients {
		if _, err := c.ReadToClose(codec.StatusGoingAway); err != nil {
			t.Fatal(err)
		}
		c.Write(wstest.Close(codec.StatusGoingAway, ""))
		c.ExpectEOF()
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("server still accepts after shutdown")
	}
}

// orderedHandler blocks in OnMessage (it runs on workers) and records the
// order of each session's messages.
type orderedHandler struct {
	server.BuiltinHandler
	mu   sync.Mutex
	seen map[uint64][]string
	done chan struct{}
	want int
	n    int
}

func (h *orderedHandler) OnMessage(s *server.Session, m server.Message) {
	time.Sleep(time.Millisecond) // a blocking handler: the reason for workers
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[s.ID()] = append(h.seen[s.ID()], string(m.Data))
	if h.n++; h.n == h.want {
		close(h.done)
	}
	_ = s.Send(m.Op, m.Data)
}

// TestWorkers: with a worker pool, blocking handlers keep each session's
// messages in order and replies still reach the client, also when the
// queues are so short that connections pause and resume all the time.
func TestWorkers(t *testing.T) {
	t.Parallel()
	for _, queue := range []int{0, 1} {
		t.Run(fmt.Sprintf("queue %d", queue), func(t *testing.T) {
			t.Parallel()
			testWorkers(t, queue)
		})
	}
}

func testWorkers(t *testing.T, queue int) {
	const clients, each = 4, 50
	h := &orderedHandler{seen: map[uint64][]string{}, done: make(chan struct{}), want: clients * each}
	_, addr := start(t, h, server.Config{Workers: 3, WorkerQueue: queue})
	conns := make([]*wstest.Conn, clients)
	for i := range conns {
		conns[i] = wstest.Upgrade(t, addr, "/ws")
		for j := range each {
			conns[i].Write(wstest.Text(fmt.Sprint(j)))
		}
	}
	for _, c := range conns {
		for j := range each {
			if f := c.MustFrame(); string(f.Payload) != fmt.Sprint(j) {
				t.Fatalf("reply %d: %q", j, f.Payload)
			}
		}
	}
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, msgs := range h.seen {
		for j, m := range msgs {
			if m != fmt.Sprint(j) {
				t.Fatalf("session %d: message %d handled as %q", id, j, m)
			}
		}
	}
}

// TestZeroConfig: a nil handler and a Config with nothing but a free port
// serve WebSocket on the default path.
func TestZeroConfig(t *testing.T) {
	t.Parallel()
	srv := server.New(nil, &server.Config{Addr: "127.0.0.1:0"})
	serve(t, srv)
	c := wstest.Upgrade(t, srv.Addr().String(), server.DefaultPath)
	c.Write(wstest.Masked(true, 0, codec.OpPing, []byte("zero")))
	if f := c.MustFrame(); f.Op != codec.OpPong || string(f.Payload) != "zero" {
		t.Fatalf("got %v, want the pong", f)
	}
}
