package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/natstest"
)

// liveNodes is the set of nodes a test's clients and publishers may use.
type liveNodes struct {
	mu    sync.Mutex
	nodes []*instance
}

func (l *liveNodes) pick() *instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodes[rand.IntN(len(l.nodes))]
}

func (l *liveNodes) set(nodes ...*instance) {
	l.mu.Lock()
	l.nodes = nodes
	l.mu.Unlock()
}

// movingClient is an envelope WebSocket client of topic that, whenever its
// connection ends, reconnects to a live node with its position.
type movingClient struct {
	mu      sync.Mutex
	offsets []uint64
	resets  int
	moves   int
	epoch   string
	last    uint64
	started chan struct{}
}

func (c *movingClient) run(t *testing.T, live *liveNodes, topic string, done <-chan struct{}) {
	d := websocket.Dialer{Subprotocols: []string{codec.EnvelopeProtocol}, HandshakeTimeout: 10 * time.Second}
	first := true
	for {
		select {
		case <-done:
			return
		default:
		}
		q := "?topic=" + topic
		c.mu.Lock()
		if c.epoch != "" {
			q += fmt.Sprintf("&since=%d&epoch=%s", c.last, c.epoch)
		}
		c.mu.Unlock()
		conn, _, err := d.Dial(live.pick().clients+q, nil)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the node may be going away: try another
			continue
		}
		go func() { <-done; conn.Close() }()
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				break
			}
			var e struct {
				Op, Topic, Epoch string
				Offset           uint64
			}
			if json.Unmarshal(p, &e) != nil {
				continue
			}
			c.mu.Lock()
			switch e.Op {
			case "subscribed":
				if c.epoch == "" {
					c.epoch, c.last = e.Epoch, e.Offset
				}
			case "reset":
				c.resets++
			case "":
				c.offsets = append(c.offsets, e.Offset)
				c.last = e.Offset
			}
			c.mu.Unlock()
			if first && e.Op == "subscribed" {
				first = false
				close(c.started)
			}
		}
		conn.Close()
		c.mu.Lock()
		c.moves++
		c.mu.Unlock()
	}
}

// TestClusterKillAndRollingRestart: three c1m processes and one NATS
// server; clients move between nodes with their positions whenever their
// connection ends. Node a is killed with SIGKILL mid-stream and replaced by
// a fresh node, which reads the cluster's history from NATS; then node b
// is stopped with SIGTERM (drained with jitter). Every publication answered
// 200 reaches every client once, in order, with no reset.
func TestClusterKillAndRollingRestart(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	node := func(id string) *instance {
		return startC1M(t, "-nats", ns.URL(), "-node-id", id, "-drain-spread", "500ms", "-drain", "5s")
	}
	a, b, c := node("a"), node("b"), node("c")
	live := &liveNodes{}
	live.set(a, b, c)

	const clients = 60
	done := make(chan struct{})
	var wg sync.WaitGroup
	cs := make([]*movingClient, clients)
	for i := range cs {
		cs[i] = &movingClient{started: make(chan struct{})}
		wg.Add(1)
		go func() { defer wg.Done(); cs[i].run(t, live, "k", done) }()
	}
	t.Cleanup(func() { close(done); wg.Wait() })
	for i, mc := range cs {
		select {
		case <-mc.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("client %d did not subscribe", i)
		}
	}

	var mu sync.Mutex
	var ok []uint64
	var stop atomic.Bool
	var pw sync.WaitGroup
	pw.Add(1)
	go func() {
		defer pw.Done()
		for k := 0; !stop.Load(); k++ {
			resp, err := http.Post(live.pick().api+"/api/publish?topic=k", "text/plain", strings.NewReader(fmt.Sprint(k)))
			if err != nil {
				continue // a node going away: not answered 200
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out struct{ Offset uint64 }
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &out) == nil {
				mu.Lock()
				ok = append(ok, out.Offset)
				mu.Unlock()
			}
		}
	}()
	published := func() int { mu.Lock(); defer mu.Unlock(); return len(ok) }
	waitUntil := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for published() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d publications answered 200, want %d", published(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil(50)

	// SIGKILL: a's clients find their connection gone and move.
	live.set(b, c)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	waitUntil(published() + 50)
	a2 := node("a2")
	live.set(a2, c)
	// SIGTERM: b drains its clients with 1001 over -drain-spread; they move
	// to a2, which learned the topic's history from NATS, or to c.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.exited:
		if err != nil {
			t.Fatalf("b after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b did not exit after SIGTERM")
	}
	waitUntil(published() + 50)
	stop.Store(true)
	pw.Wait()

	mu.Lock()
	want := slices.Clone(ok)
	mu.Unlock()
	slices.Sort(want)
	moved := 0
	for i, mc := range cs {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mc.mu.Lock()
			n := len(mc.offsets)
			caught := n > 0 && mc.offsets[n-1] >= want[len(want)-1]
			mc.mu.Unlock()
			if caught {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %d did not receive up to offset %d", i, want[len(want)-1])
			}
			time.Sleep(10 * time.Millisecond)
		}
		mc.mu.Lock()
		got := slices.Clone(mc.offsets)
		resets, moves := mc.resets, mc.moves
		mc.mu.Unlock()
		if moves > 0 {
			moved++
		}
		if resets > 0 {
			t.Fatalf("client %d was reset %d times: history should cover its moves", i, resets)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("client %d: offsets out of order or repeated", i)
		}
		for _, off := range want {
			if _, found := slices.BinarySearch(got, off); !found {
				t.Fatalf("client %d: publication %d answered 200 never arrived (moves %d)", i, off, moves)
			}
		}
	}
	if moved < clients/3 {
		t.Fatalf("only %d clients moved between nodes, want at least the killed and the drained nodes' share", moved)
	}
	t.Logf("%d publications, %d clients, %d of them moved", len(want), clients, moved)
}

// TestNATSUnreachableAtStart: with -nats pointing where no NATS listens
// the binary refuses to start and says why and what to do; with
// -nats-optional it starts, reports itself degraded and refuses
// publications with 503.
func TestNATSUnreachableAtStart(t *testing.T) {
	t.Parallel()
	const nowhere = "nats://127.0.0.1:1"
	out, err := exec.Command(binary, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-nats", nowhere).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1", err)
	}
	if !strings.Contains(string(out), "unreachable") || !strings.Contains(string(out), "-nats-optional") {
		t.Fatalf("refusal does not say why and what to do:\n%s", out)
	}
	in := startC1M(t, "-nats", nowhere, "-nats-optional")
	resp, err := http.Get(in.api + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "degraded") {
		t.Fatalf("readyz %s %s, want 503 degraded", resp.Status, body)
	}
	resp, err = http.Post(in.api+"/api/publish?topic=x", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("publish while degraded: %s, want 503 with Retry-After", resp.Status)
	}
}
