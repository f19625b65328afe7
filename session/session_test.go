package session

import (
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// goExec runs tasks on one goroutine in order, standing in for an event loop.
type goExec struct {
	tasks chan func()
}

func newGoExec(t *testing.T) *goExec {
	e := &goExec{tasks: make(chan func(), 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for fn := range e.tasks {
			fn()
		}
	}()
	t.Cleanup(func() { close(e.tasks); <-done })
	return e
}

func (e *goExec) Execute(fn func()) error { e.tasks <- fn; return nil }

// fakeTransport records what the shard asks of it.
type fakeTransport struct {
	msgs    []string
	flushes int
	pings   int
	closed  codec.StatusCode
	aborted bool
	starts  []Start
}

func (f *fakeTransport) WriteMessage(_ codec.OpCode, p []byte) error {
	f.msgs = append(f.msgs, string(p))
	return nil
}
func (f *fakeTransport) WritePublication(p *Publication) error {
	f.msgs = append(f.msgs, string(p.Data))
	return nil
}
func (f *fakeTransport) Flush()                                { f.flushes++ }
func (f *fakeTransport) Ping() bool                            { f.pings++; return true }
func (f *fakeTransport) Subscribed(topic string, st Start)     { f.starts = append(f.starts, st) }
func (f *fakeTransport) Close(code codec.StatusCode, _ string) { f.closed = code }
func (f *fakeTransport) Abort()                                { f.aborted = true }

// newTestShard returns a shard driven directly by the test (which plays the
// loop: tid is left unbound, so Send always takes the inbox path).
func newTestShard(t *testing.T, cfg Config) *Shard {
	return NewShard(0, "loop", newGoExec(t), cfg)
}

func TestWheelTimers(t *testing.T) {
	t.Parallel()
	tick := 100 * time.Millisecond
	cases := []struct {
		name    string
		cfg     Config
		open    bool
		touchAt int64 // tick of inbound traffic; 0 for none
		until   int64
		pings   int
		closed  codec.StatusCode
		aborted bool
	}{
		{"handshake deadline", Config{Tick: tick, HandshakeTimeout: time.Second}, false, 0, 11, 0, 0, true},
		{"handshake in time", Config{Tick: tick, HandshakeTimeout: time.Second}, false, 0, 9, 0, 0, false},
		{"ping then pong timeout", Config{Tick: tick, PingInterval: time.Second, PongTimeout: 500 * time.Millisecond}, true, 0, 17, 1, codec.StatusGoingAway, false},
		{"traffic answers the ping", Config{Tick: tick, PingInterval: time.Second, PongTimeout: 500 * time.Millisecond}, true, 12, 17, 1, 0, false},
		{"idle timeout", Config{Tick: tick, IdleTimeout: time.Second, PingInterval: -1}, true, 0, 12, 0, codec.StatusGoingAway, false},
		{"idle reset by traffic", Config{Tick: tick, IdleTimeout: time.Second, PingInterval: -1}, true, 8, 15, 0, 0, false},
		{"close deadline", Config{Tick: tick, IdleTimeout: time.Second, PingInterval: -1, CloseTimeout: time.Second}, true, 0, 23, 0, codec.StatusGoingAway, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sh := newTestShard(t, tc.cfg)
			sh.Advance(1)
			var s Session
			tr := &fakeTransport{}
			sh.Open(&s, tr)
			if tc.open {
				s.MarkOpen()
			}
			for now := int64(2); now <= tc.until; now++ {
				if now == tc.touchAt {
					s.Touch()
				}
				sh.Advance(now)
				if tr.aborted && s.State() != StateClosed {
					sh.Closed(&s) // the transport reports the end
				}
			}
			if tr.pings != tc.pings || tr.closed != tc.closed || tr.aborted != tc.aborted {
				t.Fatalf("pings %d closed %d aborted %v; want %d %d %v",
					tr.pings, tr.closed, tr.aborted, tc.pings, tc.closed, tc.aborted)
			}
		})
	}
}

// TestWheelManySessions: sessions with deadlines spread over more than one
// lap of the wheel each expire exactly once, at their tick.
func TestWheelManySessions(t *testing.T) {
	t.Parallel()
	var w wheel
	const n = 3 * wheelSlots
	ss := make([]Session, n)
	for i := range ss {
		ss[i].state = StateOpen
		w.schedule(&ss[i], int64(i+1))
	}
	fired := make([]int64, n)
	index := make(map[*Session]int, n)
	for i := range ss {
		index[&ss[i]] = i
	}
	for to := int64(1); to <= n+5; to++ {
		w.advance(to, func(s *Session, now int64) int64 {
			i := index[s]
			if fired[i] != 0 {
				t.Fatalf("session %d fired twice", i)
			}
			fired[i] = now
			return 0
		})
	}
	for i, at := range fired {
		if at != int64(i+1) {
			t.Fatalf("session %d fired at %d, want %d", i, at, i+1)
		}
	}
	if w.count != 0 {
		t.Fatalf("%d sessions left in the wheel", w.count)
	}
}

// TestInboxOrderAndBatching: tasks posted from many goroutines run in each
// poster's order, and the loop is woken far less than once per task.
func TestInboxOrderAndBatching(t *testing.T) {
	t.Parallel()
	ex := &countingExec{goExec: newGoExec(t)}
	sh := NewShard(0, "loop", ex, Config{})
	const posters, each = 8, 500
	var mu sync.Mutex
	seen := make([][]int, posters)
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := sh.Post(func() {
					mu.Lock()
					seen[p] = append(seen[p], i)
					mu.Unlock()
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	_ = sh.Post(func() { close(done) })
	<-done
	for p, got := range seen {
		for i, v := range got {
			if v != i {
				t.Fatalf("poster %d: task %d ran as %d", p, i, v)
			}
		}
		if len(got) != each {
			t.Fatalf("poster %d: %d tasks ran, want %d", p, len(got), each)
		}
	}
	if wakes := ex.n(); wakes >= posters*each {
		t.Fatalf("%d wakes for %d tasks: no batching", wakes, posters*each)
	}
}

type countingExec struct {
	*goExec
	mu    sync.Mutex
	wakes int
}

func (c *countingExec) Execute(fn func()) error {
	c.mu.Lock()
	c.wakes++
	c.mu.Unlock()
	return c.goExec.Execute(fn)
}

func (c *countingExec) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wakes
}

// TestSendBacklogCap: sends from other goroutines stop at MaxInflight bytes
// waiting in the inbox.
func TestSendBacklogCap(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	ex := newGoExec(t)
	sh := NewShard(0, "loop", ex, Config{MaxInflight: 100})
	var s Session
	ran := make(chan struct{})
	_ = ex.Execute(func() {
		sh.Open(&s, &fakeTransport{})
		s.MarkOpen()
		close(ran)
		<-block // hold the loop so sends pile up in the inbox
	})
	<-ran
	payload := make([]byte, 40)
	for i := range 2 {
		if err := s.Send(codec.OpBinary, payload); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.Send(codec.OpBinary, payload); err != ErrBacklog {
		t.Fatalf("third send: %v, want ErrBacklog", err)
	}
	close(block)
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	var r Registry
	ex := newGoExec(t)
	a := r.Lookup("a", func(i int) *Shard { return NewShard(i, "a", ex, Config{}) })
	b := r.Lookup("b", func(i int) *Shard { return NewShard(i, "b", ex, Config{}) })
	if again := r.Lookup("a", func(int) *Shard { t.Fatal("created twice"); return nil }); again != a {
		t.Fatal("lookup returned another shard")
	}
	if got := r.Shards(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("shards %v", got)
	}
	var s Session
	done := make(chan struct{})
	_ = ex.Execute(func() { b.Open(&s, &fakeTransport{}); close(done) })
	<-done
	if r.ByID(s.ID()) != b {
		t.Fatal("ByID does not find the session's shard")
	}
}
