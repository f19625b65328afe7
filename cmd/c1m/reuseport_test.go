package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// reservePort binds (without listening) a socket with SO_REUSEPORT to a
// free loopback port and keeps it until the test ends: processes that bind
// the same port with SO_REUSEPORT join it, and no one else can take the
// port meanwhile. A bound socket that does not listen gets no connections.
func reservePort(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

// connections reads a node's open connections from its stats.
func (in *instance) connections(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(in.api + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Connections int }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Connections
}

// TestReusePortSharesOnePort is the many-nodes-on-one-host setup: two c1m
// processes with -reuse-port on the same fixed port both take clients that
// dial that one port, and a publication on each node reaches that node's
// clients.
func TestReusePortSharesOnePort(t *testing.T) {
	t.Parallel()
	port := reservePort(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	nodes := []*instance{
		startC1M(t, "-reuse-port", "-listen", listen, "-loops", "2", "-demo=false"),
		startC1M(t, "-reuse-port", "-listen", listen, "-loops", "2", "-demo=false"),
	}
	for _, n := range nodes {
		if !strings.Contains(n.clients, fmt.Sprintf(":%d/", port)) {
			t.Fatalf("node listens on %s, want port %d", n.clients, port)
		}
	}
	// The kernel picks a listening socket by a hash of the connection's
	// addresses: over 200 source ports, a node that got none would mean
	// the port was not shared (the odds of chance are 2^-199).
	const clients = 200
	conns := make([]*websocket.Conn, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range conns {
		wg.Go(func() {
			c, _, err := websocket.DefaultDialer.Dial("ws://"+listen+"/ws?topic=t", nil)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	deadline := time.Now().Add(20 * time.Second) // a hang guard only
	var got []int
	for {
		got = got[:0]
		sum := 0
		for _, n := range nodes {
			c := n.connections(t)
			got = append(got, c)
			sum += c
		}
		if sum == clients || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("connections per node: %v", got)
	sum := 0
	for i, c := range got {
		if c == 0 {
			t.Errorf("node %d got no connection: the port is not shared", i)
		}
		sum += c
	}
	if sum != clients {
		t.Fatalf("nodes hold %d connections, want %d", sum, clients)
	}
	// Without a broker each node is an island: a publication on node i
	// reaches exactly node i's clients, which proves every client is
	// served by the node that counts it.
	for i, n := range nodes {
		n.post(t, "/api/publish?topic=t", fmt.Sprintf("from-node-%d", i))
	}
	reached := make([]int, len(nodes))
	var mu sync.Mutex
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang guard
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				for i := range nodes {
					if strings.Contains(string(msg), fmt.Sprintf("from-node-%d", i)) {
						mu.Lock()
						reached[i]++
						mu.Unlock()
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for i := range nodes {
		if reached[i] != got[i] {
			t.Errorf("publication on node %d reached %d clients, the node holds %d", i, reached[i], got[i])
		}
	}
}

// TestReusePortRefusesPortZero: no other process could share a port 0
// resolved at start, so c1m refuses to start and says why.
func TestReusePortRefusesPortZero(t *testing.T) {
	t.Parallel()
	// Started, it would run until killed: the context is a hang guard.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outb, err := exec.CommandContext(ctx, binary, "-reuse-port", "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-loops", "2").CombinedOutput()
	out := string(outb)
	if err == nil {
		t.Fatal("c1m started with -reuse-port on port 0")
	}
	if !strings.Contains(out, "fixed port") {
		t.Fatalf("c1m's error does not say a fixed port is needed:\n%s", out)
	}
}
