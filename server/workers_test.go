package server_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// keeper keeps every message's Data as it was handed over, without copying:
// with Config.Workers, Message.Data is the handler's own.
type keeper struct {
	server.BuiltinHandler
	mu      sync.Mutex
	kept    [][]byte
	handled chan struct{}
}

func (k *keeper) OnMessage(_ *server.Session, m server.Message) {
	k.mu.Lock()
	k.kept = append(k.kept, m.Data)
	k.mu.Unlock()
	k.handled <- struct{}{}
}

// TestWorkersMessageDataIsOwned: a handler on a worker may keep
// Message.Data; later messages do not overwrite it.
//
// Not parallel: it runs with one P and one message at a time, so that a
// buffer a worker would give back to a sync.Pool is the one the loop takes
// for the next message (pools are per P), as it would be sooner or later
// on any machine.
func TestWorkersMessageDataIsOwned(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const msgs = 32
	k := &keeper{handled: make(chan struct{})}
	_, addr := start(t, k, server.Config{Workers: 1})
	c := wstest.Upgrade(t, addr, "/ws")
	payload := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "%03d", i), 100) }
	for i := range msgs {
		c.Write(wstest.Text(string(payload(i))))
		<-k.handled
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, got := range k.kept {
		if !bytes.Equal(got, payload(i)) {
			t.Fatalf("message %d was overwritten after OnMessage: %.12q...", i, got)
		}
	}
}

// gated is a handler whose OnMessage blocks until the test opens its gate,
// as a handler stuck on a slow database would.
type gated struct {
	server.BuiltinHandler
	gate    chan struct{} // closed to let handlers go on
	entered chan string   // each message as its handler starts
}

func newGated(t *testing.T) *gated {
	g := &gated{gate: make(chan struct{}), entered: make(chan string, 1024)}
	return g
}

func (g *gated) OnMessage(_ *server.Session, m server.Message) {
	g.entered <- string(m.Data)
	<-g.gate
}

// open lets the handlers go on; it is registered as a cleanup after the
// server starts, so that it runs before the server's shutdown.
func (g *gated) open() {
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

// TestFullWorkerQueuePausesOneConnection: when a session's worker queue is
// full, the loop stops reading that connection instead of waiting: another
// client on the same loop still gets its handshake answered. Once the
// worker catches up, both connections are read again and no message is
// lost or reordered.
func TestFullWorkerQueuePausesOneConnection(t *testing.T) {
	t.Parallel()
	const msgs = 10
	g := newGated(t)
	_, addr := start(t, g, server.Config{Loops: 1, Workers: 1, WorkerQueue: 1})
	t.Cleanup(g.open)

	a := wstest.Upgrade(t, addr, "/ws")
	var burst []byte
	for i := range msgs {
		burst = append(burst, wstest.Text(strconv.Itoa(i))...)
	}
	a.Write(burst)
	if got := <-g.entered; got != "0" {
		t.Fatalf("first message handled: %q", got)
	}
	// The worker is stuck in message 0 and its queue holds message 1: the
	// loop has nowhere to put message 2. The loop must still serve others.
	b := wstest.Upgrade(t, addr, "/ws")

	g.open()
	got := []string{"0"}
	for len(got) < msgs {
		got = append(got, <-g.entered)
	}
	want := make([]string, msgs)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("handled %q, want %q", got, want)
	}
	// Both connections are read again.
	for _, c := range []*wstest.Conn{a, b} {
		c.Write(wstest.Masked(true, 0, codec.OpPing, []byte("again")))
		if f := c.MustFrame(); f.Op != codec.OpPong || string(f.Payload) != "again" {
			t.Fatalf("got %v, want the pong", f)
		}
	}
}

// TestPausedInputIsBounded: a client that keeps sending while its reads
// are paused is closed with 1013 once more than MaxMessage bytes of its
// input wait in the server.
func TestPausedInputIsBounded(t *testing.T) {
	t.Parallel()
	g := newGated(t)
	srv, addr := start(t, g, server.Config{Loops: 1, Workers: 1, WorkerQueue: 1,
		MaxFrame: testMaxFrame, MaxMessage: testMaxMessage})
	t.Cleanup(g.open)

	c := wstest.Upgrade(t, addr, "/ws")
	c.Write(wstest.Text("stuck"))
	<-g.entered
	frame := wstest.Masked(true, 0, codec.OpBinary, make([]byte, testMaxFrame))
	flood := bytes.Repeat(frame, 4*testMaxMessage/testMaxFrame)
	go func() { _, _ = c.Net().Write(flood) }() // the server may stop reading before the end
	if _, err := c.ReadToClose(codec.StatusTryAgainLater); err != nil {
		t.Fatal(err)
	}
	if n := evictions(srv, session.ReasonInputBacklog); n != 1 {
		t.Fatalf("%d input_backlog evictions counted, want 1", n)
	}
}
