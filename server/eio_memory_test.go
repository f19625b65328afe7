package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/memtest"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestEIOMemoryPerSession measures the heap an idle Engine.IO session
// holds, on WebSocket and on long-polling with its poll held, beside an
// idle plain WebSocket session, with the same raw client sockets in the
// same process (their share is in every figure alike). The figures are
// logged (go test -v); the test fails when an Engine.IO session costs
// more than its budget over a plain WebSocket one. One server serves
// every round, the clients of each kept, so that no other server's
// release moves the heap; a first round warms it up.
//
// Not parallel: it reads the heap, which other tests would disturb.
func TestEIOMemoryPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	const conns = 2000
	// wsBudget is what an Engine.IO session on WebSocket may hold over a
	// plain WebSocket one: nothing of its own, since it is the
	// connection's own session (eio_direct.go). Measured 2026-11-30,
	// three runs: -93 to -106 B (the plain round pays some of the shard
	// table's growth), and +274 to +285 B with the detached session, its
	// shard entry and the relay's link it had before (this test with that
	// code fails). pollBudget is what a polling session may hold: its
	// session object (256 B: the detached session, the sid's token, the
	// heartbeat), a second entry in the shard's table and the held poll's
	// waiter (80 B, with the connection's extension of 80 B); measured
	// +444 to +454 B (+379 to +384 B on the code before: where the
	// shard table's growth falls moves these figures by tens of bytes).
	const wsBudget, pollBudget = 64, 768
	srv := server.New(nil, &server.Config{Addr: "127.0.0.1:0", Loops: 2, Timing: session.Config{PingInterval: -1, CloseTimeout: 100 * time.Millisecond},
		Engine: &server.EngineConfig{Path: "/engine.io/", PingInterval: time.Hour, PingTimeout: time.Hour}})
	serve(t, srv)
	addr := srv.Addr().String()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	polls := int64(0)
	measure := func(kind string) float64 {
		// Two collections on each side: what sync.Pools (the handshakes'
		// buffers) keep past one collection is not the clients'.
		before := memtest.LiveHeap()
		held = append(held, eioIdle(t, addr, conns, kind)...)
		if kind == "eio-poll" {
			polls += conns
			waitFor(t, "the polls held", func() bool { return server.EngineHeldPolls(srv) == polls })
		}
		return float64(int64(memtest.LiveHeap())-int64(before)) / conns
	}
	measure("ws") // warm-up: the process's and the server's one-time allocations
	plain := measure("ws")
	ws := measure("eio-ws")
	poll := measure("eio-poll")
	t.Logf("heap per idle session, clients' sockets included: plain WebSocket %.0f B, Engine.IO WebSocket %.0f B (%+.0f), Engine.IO polling with its poll held %.0f B (%+.0f)",
		plain, ws, ws-plain, poll, poll-plain)
	if ws-plain > wsBudget || poll-plain > pollBudget {
		t.Errorf("an Engine.IO session holds %.0f B (WebSocket) and %.0f B (polling) over a plain WebSocket one, want at most %d and %d", ws-plain, poll-plain, wsBudget, pollBudget)
	}
}

// eioIdle opens conns idle sessions of kind on addr (ws: a plain
// WebSocket; eio-ws: Engine.IO on WebSocket; eio-poll: Engine.IO on
// polling, its poll sent) and returns their connections.
func eioIdle(t *testing.T, addr string, conns int, kind string) []net.Conn {
	t.Helper()
	held := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
		br := bufio.NewReaderSize(c, 512)
		switch kind {
		case "ws", "eio-ws":
			path := "/ws"
			if kind == "eio-ws" {
				path = "/engine.io/?EIO=4&transport=websocket"
			}
			_, _ = c.Write([]byte(wstest.Request(path, "")))
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			if kind == "eio-ws" {
				// The open packet: a text frame of less than 126 bytes.
				var hdr [2]byte
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(br, make([]byte, hdr[1]&0x7f)); err != nil {
					t.Fatal(err)
				}
			}
		case "eio-poll":
			_, _ = c.Write([]byte("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: test\r\n\r\n"))
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("handshake: %v %v", resp, err)
			}
			body, _ := io.ReadAll(resp.Body)
			sid := strings.SplitN(strings.SplitN(string(body), `"sid":"`, 2)[1], `"`, 2)[0]
			_, _ = c.Write([]byte("GET /engine.io/?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: test\r\n\r\n"))
		}
	}
	return held
}
