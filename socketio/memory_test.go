package socketio

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/c1mhq/c1m/internal/memtest"

	"github.com/c1mhq/c1m/session"
)

// layerBudget is what the Socket.IO layer may add to an idle Engine.IO
// session connected to one namespace: its client and socket, their ids,
// the auth payload and the registry entry. Measured 312-315 B (2026-11-30,
// with and without -race: the 80-byte client and 128-byte Socket; 297 B
// with the 112-byte Socket before its since field; 361 B with the
// 112-byte client and 128-byte Socket before, and 505 B with the sync.Map
// registry and the 160-byte Socket, which fail). The budget leaves room
// for a few bytes of noise, not for another size class.
const layerBudget = 320

// TestLayerFitsItsSizeClasses: a field more in the client or the Socket
// costs every idle client the next size class (16 or 32 bytes).
func TestLayerFitsItsSizeClasses(t *testing.T) {
	if size := unsafe.Sizeof(client{}); size > 80 {
		t.Errorf("client is %d bytes, over the 80-byte size class", size)
	}
	// 112 bytes before since (the node's order at connect, which makes
	// recovery exact in every room) took 8 more: the 128-byte class.
	if size := unsafe.Sizeof(Socket{}); size > 128 {
		t.Errorf("Socket is %d bytes, over the 128-byte size class", size)
	}
}

// TestIdleClientMemory measures the heap the layer holds per idle client
// connected to "/", over the sessions themselves (opened first, without
// the layer), and checks it against layerBudget.
func TestIdleClientMemory(t *testing.T) {
	const n = 2000
	srv := suiteServer(nil)
	r := newRig(t, srv, session.HistoryConfig{})
	conns := make([]*conn, n)
	// The sessions and their recorders first, measured apart.
	for i := range conns {
		conns[i] = &conn{r: r, s: new(session.Session), rec: &recorder{enc: srv.EncodePublication, msgs: make([]string, 0, 4)}}
		r.loop.run(func() { r.sh.Open(conns[i].s, conns[i].rec); conns[i].s.MarkOpen() })
	}
	before := memtest.LiveHeap()
	for _, c := range conns {
		r.loop.run(func() { srv.OnOpen(sessionOf(c)) })
		c.send("0")
	}
	after := memtest.LiveHeap()
	per := (int64(after) - int64(before)) / n
	t.Logf("the layer holds %d B per idle client connected to / (the recorded CONNECT and auth packets, a test's, included)", per)
	if per > layerBudget {
		t.Fatalf("%d B per idle client, over the %d B budget", per, layerBudget)
	}
	runtime.KeepAlive(conns)
}

// connectTimerBudget is what Config.ConnectTimeout's runtime timer
// (time.AfterFunc in Server.OnOpen, stopped at the first CONNECT) may add
// to a client that has not connected yet. Measured 145-151 B (Go 1.26.8,
// 2026-11-30, with and without -race): the runtime's timer in the 128-byte
// class and the 16-byte method value; a second timer per client fails.
const connectTimerBudget = 160

// TestConnectingClientMemory measures the heap the layer holds per client
// whose Engine.IO session is open but which has sent no CONNECT yet,
// with the connect timeout's timer and without it (ConnectTimeout -1),
// and checks the difference, the timer's cost, against
// connectTimerBudget.
func TestConnectingClientMemory(t *testing.T) {
	const n = 4000
	perClient := func(cfg *Config) int64 {
		srv := suiteServer(cfg)
		r := newRig(t, srv, session.HistoryConfig{})
		conns := make([]*conn, n)
		for i := range conns {
			conns[i] = &conn{r: r, s: new(session.Session), rec: &recorder{enc: srv.EncodePublication}}
			r.loop.run(func() { r.sh.Open(conns[i].s, conns[i].rec); conns[i].s.MarkOpen() })
		}
		before := memtest.LiveHeap()
		for _, c := range conns {
			r.loop.run(func() { srv.OnOpen(sessionOf(c)) })
		}
		after := memtest.LiveHeap()
		runtime.KeepAlive(conns)
		return (int64(after) - int64(before)) / n
	}
	timed := perClient(&Config{ConnectTimeout: DefaultConnectTimeout})
	untimed := perClient(&Config{ConnectTimeout: -1})
	t.Logf("a client before its CONNECT holds %d B with the connect timer, %d B without: the timer costs %d B", timed, untimed, timed-untimed)
	if timed-untimed > connectTimerBudget {
		t.Fatalf("the connect timer costs %d B per connecting client, over the %d B budget", timed-untimed, connectTimerBudget)
	}
}
