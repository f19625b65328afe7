package socketio_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/memtest"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/c1mhq/c1m/socketio"
)

// wireBudget is what an idle Socket.IO client on a direct WebSocket
// (/socket.io/?EIO=4&transport=websocket, connected to "/", one room
// joined) may hold over an idle plain WebSocket connection on the same
// server, in heap: the layer's client (80 B), socket (128 B), their ids,
// its entry in the client table and its room; the Engine.IO session is
// the connection's own (server/eio_direct.go). Measured 2026-11-30:
// 434-456 B; with the 112-byte client and 128-byte Socket 509-511 B;
// before that, with a detached Engine.IO session (256 B and an entry in
// the shard's table) and the relay's link (48 B) beside the connection's
// session, 663-691 B, and before the client table, the socket's rare
// fields and ids, and the relay's link in the connection's Data slot,
// 893 B (this test fails with that code). The budget was 512 B until a
// CI run on a loaded machine measured 549 B once (plain WebSocket 80 B
// over its usual figure too), against 453-472 B in nine runs here, idle
// or beside other tests; 576 B still fails the regressions above. The
// layer's size classes are held exactly by TestLayerFitsItsSizeClasses
// and TestIdleClientMemory.
const wireBudget = 576

// TestIdleClientMemoryOnWire measures, on a real server, the heap an idle
// Socket.IO client over a direct WebSocket holds beside an idle plain
// WebSocket connection (the raw test clients' buffers are in both alike),
// and fails over wireBudget. One server serves every round, so that no
// other server's release moves the heap: a first round of each kind warms
// it up, the second is measured. Not parallel: it reads the heap.
func TestIdleClientMemoryOnWire(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	const n = 2000
	sio := socketio.New(&socketio.Config{ConnectTimeout: -1})
	socketio.ServePush(sio.Of("/"), nil)
	srv := server.New(nil, &server.Config{
		Addr: "127.0.0.1:0", Loops: 2, Timing: session.Config{PingInterval: -1},
		Engine: sio.EngineConfig(&server.EngineConfig{PingInterval: time.Hour, PingTimeout: time.Hour}),
	})
	sio.Attach(srv.Hub())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := srv.Addr().String()
	var held [][]*wstest.Conn
	defer runtime.KeepAlive(&held)
	measure := func(kind string) float64 {
		// Two collections on each side: what sync.Pools (the handshakes'
		// buffers) keep past one collection is not the clients'.
		before := memtest.LiveHeap()
		held = append(held, openClients(t, addr, n, kind))
		return float64(int64(memtest.LiveHeap())-int64(before)) / float64(n)
	}
	measure("ws") // warm-up: the process's and the server's one-time allocations
	measure("sio")
	plain := measure("ws")
	sioPer := measure("sio")
	t.Logf("heap per idle client, raw test clients included: plain WebSocket %.0f B, Socket.IO over WebSocket with one room %.0f B (%+.0f)", plain, sioPer, sioPer-plain)
	if sioPer-plain > wireBudget {
		t.Errorf("an idle Socket.IO client holds %.0f B over a plain WebSocket one, want at most %d", sioPer-plain, wireBudget)
	}
}

// openClients opens n idle clients of kind on addr (ws: a plain
// WebSocket; sio: Socket.IO over WebSocket, connected to "/" and in room
// "t").
func openClients(t *testing.T, addr string, n int, kind string) []*wstest.Conn {
	conns := make([]*wstest.Conn, 0, n)
	for range n {
		if kind == "ws" {
			conns = append(conns, wstest.Upgrade(t, addr, "/ws"))
			continue
		}
		c := wstest.Dial(t, addr)
		c.Write([]byte(wstest.Request("/socket.io/?EIO=4&transport=websocket", "")))
		if resp := c.Response(); resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: status %d", resp.StatusCode)
		}
		if f := c.MustFrame(); !strings.HasPrefix(string(f.Payload), "0{") {
			t.Fatalf("open %q", f.Payload)
		}
		c.Write(wstest.Text("40"))
		if f := c.MustFrame(); !strings.HasPrefix(string(f.Payload), `40{"sid":"`) {
			t.Fatalf("connect %q", f.Payload)
		}
		c.Write(wstest.Text(`421["subscribe","t"]`))
		if f := c.MustFrame(); string(f.Payload) != `431[null]` {
			t.Fatalf("subscribe %q", f.Payload)
		}
		conns = append(conns, c)
	}
	return conns
}
