package server_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// loopCounts returns the open connections of each of srv's loops.
func loopCounts(srv *server.Server) []int64 {
	var out []int64
	for _, sh := range server.Shards(srv) {
		out = append(out, sh.Stats().Connections.Load())
	}
	return out
}

// spread returns the largest count minus the smallest.
func spread(counts []int64) int64 {
	if len(counts) == 0 {
		return 0
	}
	return slices.Max(counts) - slices.Min(counts)
}

// waitConnections waits until srv holds n connections.
func waitConnections(t *testing.T, srv *server.Server, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the server to hold %d connections", n), func() bool { return srv.Connections() == n })
}

// TestLevelLoops opens connections one at a time on three loops. The
// kernel's hash alone lets the loops' counts drift apart like a random
// walk (by tens of connections after 600);
// with handovers no loop holds LevelSlack more than another once each has
// had a connection, and after closes that emptied some loops more than
// others, new connections level them again.
func TestLevelLoops(t *testing.T) {
	// No tick in the test's time: no handshake deadline closes the
	// idle connections.
	srv, addr := start(t, nil, server.Config{Loops: 3, Timing: session.Config{Tick: time.Hour}})
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	open := func(n int, every bool) {
		t.Helper()
		for i := range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			waitConnections(t, srv, len(conns))
			counts := loopCounts(srv)
			if len(counts) == 3 && (every || i == n-1) && spread(counts) > server.LevelSlack {
				t.Fatalf("after %d connections the loops hold %v: apart by more than %d", len(conns), counts, server.LevelSlack)
			}
		}
	}
	open(600, true)
	if n := len(loopCounts(srv)); n != 3 {
		t.Fatalf("%d of 3 loops had a connection", n)
	}

	// Close every third connection, then open as many as the loops
	// below the fullest lack, and a few more: at the end they are level
	// again.
	kept := conns[:0]
	for i, c := range conns {
		if i%3 == 0 {
			_ = c.Close()
		} else {
			kept = append(kept, c)
		}
	}
	conns = kept
	waitConnections(t, srv, len(conns))
	counts := loopCounts(srv)
	lack := int64(0)
	for _, n := range counts {
		lack += slices.Max(counts) - n
	}
	t.Logf("after the closes the loops hold %v", counts)
	open(int(lack)+10, false)
	t.Logf("at the end the loops hold %v; %d connections handed over", loopCounts(srv), server.HandedOver(srv))
	if server.HandedOver(srv) == 0 {
		t.Error("no connection was handed over")
	}
}

// TestLevelStorm connects 2,000 WebSocket clients at once from 100
// goroutines to two loops. Each sends its upgrade request as soon as it
// connects, often before its loop has accepted it: a connection handed
// over carries what it had received to the other loop. Every client is
// upgraded and receives a publication. (How level the loops end is
// TestLevelLoops's: in a storm, handovers past maxHandovers on their way
// stay where the hash put them.)
func TestLevelStorm(t *testing.T) {
	const goroutines, each = 100, 20
	srv, addr := start(t, fdSubscriber{}, server.Config{Loops: 2, Timing: session.Config{Tick: time.Hour}})
	var mu sync.Mutex
	var clients []*websocket.Conn
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitConnections(t, srv, goroutines*each)
	counts := loopCounts(srv)
	t.Logf("the loops hold %v; %d connections handed over", counts, server.HandedOver(srv))
	if server.HandedOver(srv) == 0 {
		t.Error("no connection was handed over")
	}
	if _, err := srv.Hub().Publish("t", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, msg, err := c.ReadMessage(); err != nil {
			t.Fatalf("client %d: %v", i, err)
		} else if !strings.Contains(string(msg), "hello") {
			t.Fatalf("client %d got %q, want the publication", i, msg)
		}
	}
}
