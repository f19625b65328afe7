package socketio

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// The layer's tests drive a Server as the Engine.IO server does: a
// goroutine locked to its thread plays a shard's event loop (so that
// Shard.OnLoop holds there, as on gnet's loops), sessions get a recording
// transport, and the test hands the Handler Engine.IO messages on that
// loop. What the transport records is what an Engine.IO transport would
// put after its '4' message type.

// testLoop is an event loop: tasks run in order on one locked goroutine.
type testLoop struct {
	tasks chan func()
	done  chan struct{}
}

func newTestLoop(t testing.TB) *testLoop {
	l := &testLoop{tasks: make(chan func(), 1024), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer close(l.done)
		for fn := range l.tasks {
			fn()
		}
	}()
	t.Cleanup(func() { close(l.tasks); <-l.done })
	return l
}

func (l *testLoop) Execute(fn func()) error { l.tasks <- fn; return nil }

// run runs fn on the loop and waits for it.
func (l *testLoop) run(fn func()) {
	done := make(chan struct{})
	l.tasks <- func() { defer close(done); fn() }
	<-done
}

// recorder is a session transport that keeps every message.
type recorder struct {
	enc func([]byte, *session.Publication) ([]byte, bool)

	// guards the fields below
	mu     sync.Mutex
	msgs   []string // text as is; binary as "bin:" + %v of the bytes
	closed bool
	reason string
	more   chan struct{}
}

func (r *recorder) add(m string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	ch := r.more
	r.more = nil
	r.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func (r *recorder) WriteMessage(op codec.OpCode, p []byte) error {
	if op == codec.OpBinary {
		r.add(fmt.Sprintf("bin:%v", p))
	} else {
		r.add(string(p))
	}
	return nil
}

func (r *recorder) WritePublication(p *session.Publication) error {
	b, _ := r.enc(nil, p)
	r.add(string(b))
	return nil
}

func (r *recorder) Flush()                           {}
func (r *recorder) Subscribed(string, session.Start) {}
func (r *recorder) Ping() bool                       { return false }
func (r *recorder) Abort()                           {}
func (r *recorder) Close(_ codec.StatusCode, reason string) {
	r.mu.Lock()
	r.closed, r.reason = true, reason
	ch := r.more
	r.more = nil
	r.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitDeadline is a hang guard only: every wait ends as soon as its
// condition holds.
const waitDeadline = 10 * time.Second

// next waits for message i (from 0) and returns it.
func (r *recorder) next(t testing.TB, i int) string {
	t.Helper()
	deadline := time.After(waitDeadline)
	for {
		r.mu.Lock()
		if i < len(r.msgs) {
			m := r.msgs[i]
			r.mu.Unlock()
			return m
		}
		if r.more == nil {
			r.more = make(chan struct{})
		}
		ch := r.more
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no message %d; got %q", i, r.all())
		}
	}
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// waitClosed waits until the session was closed.
func (r *recorder) waitClosed(t testing.TB) string {
	t.Helper()
	deadline := time.After(waitDeadline)
	for {
		r.mu.Lock()
		if r.closed {
			reason := r.reason
			r.mu.Unlock()
			return reason
		}
		if r.more == nil {
			r.more = make(chan struct{})
		}
		ch := r.more
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("session not closed; got %q", r.all())
		}
	}
}

func (r *recorder) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// rig is a Server on one test loop with its hub.
type rig struct {
	t    testing.TB
	srv  *Server
	loop *testLoop
	hub  *session.Hub
	sh   *session.Shard
}

func newRig(t testing.TB, srv *Server, hist session.HistoryConfig) *rig {
	t.Helper()
	r := &rig{t: t, srv: srv, loop: newTestLoop(t), hub: new(session.Hub)}
	r.hub.SetHistory(hist)
	r.sh = r.hub.Lookup(r.loop, func(i int) *session.Shard {
		return session.NewShard(i, r.loop, r.loop, session.Config{PingInterval: -1})
	})
	r.loop.run(r.sh.BindThread)
	srv.Attach((*server.Hub)(r.hub)) // a hub of its own, not a server's
	return r
}

// conn is one Engine.IO session of a rig.
type conn struct {
	r   *rig
	s   *session.Session
	rec *recorder
	n   int // messages read so far
}

// open opens an Engine.IO session: the server's OnOpen runs on the loop.
func (r *rig) open() *conn {
	c := &conn{r: r, s: new(session.Session), rec: &recorder{enc: r.srv.EncodePublication}}
	r.loop.run(func() {
		r.sh.Open(c.s, c.rec)
		c.s.MarkOpen()
		r.srv.OnOpen((*server.Session)(c.s))
	})
	return c
}

// send hands the server one Engine.IO text message on the loop.
func (c *conn) send(msg string) {
	c.r.loop.run(func() { c.r.srv.OnMessage((*server.Session)(c.s), server.Message{Op: codec.OpText, Data: []byte(msg)}) })
}

// sendBinary hands the server one Engine.IO binary message.
func (c *conn) sendBinary(b []byte) {
	c.r.loop.run(func() { c.r.srv.OnMessage((*server.Session)(c.s), server.Message{Op: codec.OpBinary, Data: b}) })
}

// read returns the next message the server sent.
func (c *conn) read() string {
	c.r.t.Helper()
	m := c.rec.next(c.r.t, c.n)
	c.n++
	return m
}

// expect reads the next message and checks it.
func (c *conn) expect(want string) {
	c.r.t.Helper()
	if got := c.read(); got != want {
		c.r.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectPrefix reads the next message, checks its start and returns it.
func (c *conn) expectPrefix(prefix string) string {
	c.r.t.Helper()
	got := c.read()
	if !strings.HasPrefix(got, prefix) {
		c.r.t.Fatalf("got %q, want it to start with %q", got, prefix)
	}
	return got
}

// drop ends the Engine.IO session as a dropped connection does.
func (c *conn) drop() {
	c.r.loop.run(func() {
		c.r.srv.OnClose((*server.Session)(c.s), codec.StatusAbnormalClosure, "")
		c.r.sh.Closed(c.s)
	})
}

// quiet checks that nothing more came, after a round of the loop.
func (c *conn) quiet() {
	c.r.t.Helper()
	c.r.loop.run(func() {})
	if all := c.rec.all(); len(all) > c.n {
		c.r.t.Fatalf("unexpected messages %q", all[c.n:])
	}
}

// expectSet reads len(want) messages and checks they are want, in any
// order.
func (c *conn) expectSet(want ...string) {
	c.r.t.Helper()
	got := map[string]int{}
	for range want {
		got[c.read()]++
	}
	for _, w := range want {
		if got[w] == 0 {
			c.r.t.Fatalf("got %v, want %q", got, want)
		}
		got[w]--
	}
}

// sessionOf returns c's session as the Handler sees it.
func sessionOf(c *conn) *server.Session { return (*server.Session)(c.s) }
