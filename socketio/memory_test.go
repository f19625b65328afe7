package socketio

import (
	"runtime"
	"testing"

	"github.com/c1mhq/c1m/session"
)

// layerBudget is what the Socket.IO layer may add to an idle Engine.IO
// session connected to one namespace: its client and socket, their ids,
// the auth payload and the registry entry. Measured 385 B (2026-11-30;
// 505 B with the sync.Map registry and the 160-byte Socket, which fail).
const layerBudget = 448

// TestIdleClientMemory measures the heap the layer holds per idle client
// connected to "/", over the sessions themselves (opened first, without
// the layer), and checks it against layerBudget.
func TestIdleClientMemory(t *testing.T) {
	const n = 2000
	srv := suiteServer(nil)
	r := newRig(t, srv, session.HistoryConfig{})
	conns := make([]*conn, n)
	// The sessions and their recorders first, measured apart.
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for i := range conns {
		conns[i] = &conn{r: r, s: new(session.Session), rec: &recorder{enc: srv.EncodePublication, msgs: make([]string, 0, 4)}}
		r.loop.run(func() { r.sh.Open(conns[i].s, conns[i].rec); conns[i].s.MarkOpen() })
	}
	before := heap()
	for _, c := range conns {
		r.loop.run(func() { srv.OnOpen(sessionOf(c)) })
		c.send("0")
	}
	after := heap()
	per := (int64(after) - int64(before)) / n
	t.Logf("the layer holds %d B per idle client connected to / (the recorded CONNECT and auth packets, a test's, included)", per)
	if per > layerBudget {
		t.Fatalf("%d B per idle client, over the %d B budget", per, layerBudget)
	}
	runtime.KeepAlive(conns)
}
