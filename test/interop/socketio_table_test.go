package interop

import (
	"strings"
	"testing"
)

// The conformance tables' runner: each case beside a bystander session,
// on a server with the suites' heartbeat or a slow one.

// bystander is a well-behaved WebSocket session open on the same server
// while a case runs: after the case it must still work.
type bystander struct {
	ws     *wsWire
	socket bool // a Socket.IO session (connected to "/"), else Engine.IO
}

// bystander opens a well-behaved session: Engine.IO over WebSocket
// answering pings, and on /socket.io/ connected to the main namespace.
func (w *wire) bystander() *bystander {
	w.t.Helper()
	ws := w.ws("EIO=4&transport=websocket", true)
	w.checkOpen(ws.next("the open packet").data, []string{})
	b := &bystander{ws: ws, socket: w.path == "/socket.io/"}
	if b.socket {
		ws.send("40")
		if f := ws.next("the CONNECT answer"); !strings.HasPrefix(f.data, `40{"sid":`) {
			w.t.Fatalf("%s: bystander: CONNECT answered %s", w.srv.name, f)
		}
		ws.expect(`42["auth",{}]`)
	}
	return b
}

// check says that the bystander's session still works after the case.
func (b *bystander) check() {
	w := b.ws.w
	w.t.Helper()
	if w.t.Failed() {
		return
	}
	if b.socket {
		b.ws.send(`42["message","bystander"]`)
		b.ws.expect(`42["message-back","bystander"]`)
		return
	}
	b.ws.send("4bystander")
	b.ws.expect("4bystander")
}

// wireCase is one row of a conformance table.
type wireCase struct {
	name string
	// from says where the case comes from: the official test suite, or a
	// protocol document's rule; note says where the reference differs
	// from the document.
	from, note string
	// c1mBug, when set, names a bug of c1m that the case finds: the case
	// is skipped on c1m (only) with that name, until the bug is fixed.
	c1mBug string
	// timed: the case is about the suites' heartbeat (pingInterval 300
	// ms, pingTimeout 200 ms) and runs on a server with it; the others run
	// on a server with a slow heartbeat (relaxedTimers), where a session
	// outlives a stall of the loaded machine between two requests of a
	// case. Both servers are the same program, in the same mode.
	timed bool
	// heartbeat: the case is about the heartbeat's working (pings, pongs,
	// the timeout) and runs on a server that pings every 300 ms, as the
	// suites', but waits heartbeatTimers' pingTimeout for the pong.
	heartbeat bool
	run       func(w *wire)
}

// heartbeatTimers is the heartbeat of the server of the heartbeat cases:
// the suites' 300 ms ping interval with a 2 s pingTimeout. With the
// suites' 200 ms, a pong the test sent at once came late often enough, at
// load averages of 20 to 30, that a session died in 1 to 2 runs of 5, on
// the reference and on c1m.
var heartbeatTimers = []string{"-ping-interval", "300ms", "-ping-timeout", "2s"}

// relaxedTimers is the heartbeat of the server of the cases that are not
// about it: with the suites' 500 ms from ping to timeout, sessions died
// between two requests of a case when the machine's load average passed
// 100 (other builds), on the reference and on c1m alike.
var relaxedTimers = []string{"-ping-interval", "5s", "-ping-timeout", "10s"}

// The heartbeats in milliseconds that an open packet announces: the
// suites' and relaxedTimers'.
var (
	suiteHeartbeat   = [2]int{300, 200}
	relaxedHeartbeat = [2]int{5000, 10000}
	beatHeartbeat    = [2]int{300, 2000}
)

// runWireTable runs cases against each server that start returns, in
// parallel per server and one after another within a server (the
// heartbeat cases count on the server's timers, which a crowd of parallel
// cases would delay), each with a bystander session beside it.
// start gets the extra flags of the server (relaxedTimers, or none).
func runWireTable(t *testing.T, path string, cases []wireCase, starts map[string]func(t *testing.T, flags ...string) sioServer) {
	for _, name := range []string{"reference", "c1m"} {
		start := starts[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			timed, relaxed, beat := start(t), start(t, relaxedTimers...), start(t, heartbeatTimers...)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if c.c1mBug != "" && timed.name != "reference" {
						t.Skip("c1m: " + c.c1mBug)
					}
					if c.note != "" {
						t.Logf("note: %s", c.note)
					}
					srv, hb := relaxed, relaxedHeartbeat
					switch {
					case c.timed:
						srv, hb = timed, suiteHeartbeat
					case c.heartbeat:
						srv, hb = beat, beatHeartbeat
					}
					w := newWire(t, srv, path)
					w.heartbeat = hb
					by := w.bystander()
					c.run(w)
					by.check()
				})
			}
		})
	}
}
