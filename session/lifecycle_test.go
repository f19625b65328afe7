package session

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

var errLoopGone = errors.New("loop gone")

// flakyExec refuses the first n wake-ups, then runs tasks on a goroutine.
type flakyExec struct {
	*goExec
	refuse atomic.Int32
}

func (f *flakyExec) Execute(fn func()) error {
	if f.refuse.Add(-1) >= 0 {
		return errLoopGone
	}
	return f.goExec.Execute(fn)
}

// run runs fn on sh's loop and waits for it.
func run(t *testing.T, sh *Shard, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := sh.Post(func() { fn(); close(done) }); err != nil {
		t.Fatalf("post: %v", err)
	}
	<-done
}

// TestPostExecuteFails: a task whose wake-up the executor refuses never
// runs, so Session.Send, which gives back its inflight bytes on the error,
// is not credited twice; the shard refuses everything after.
func TestPostExecuteFails(t *testing.T) {
	t.Parallel()
	ex := &flakyExec{goExec: newGoExec(t)}
	sh := NewShard(0, "loop", ex, Config{})
	var s Session
	opened := make(chan struct{})
	_ = ex.goExec.Execute(func() {
		sh.Open(&s, &fakeTransport{})
		s.MarkOpen()
		close(opened)
	})
	<-opened

	ex.refuse.Store(1)
	if err := s.Send(codec.OpBinary, make([]byte, 10)); !errors.Is(err, errLoopGone) {
		t.Fatalf("send: %v, want the executor's error", err)
	}
	if got := s.inflight.Load(); got != 0 {
		t.Fatalf("inflight %d after a failed send, want 0", got)
	}
	// The executor works again, but the loop it stood for is gone: nothing
	// runs, in particular not the failed send's task.
	if err := sh.Post(func() { t.Error("a task ran after the executor failed") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("post after failure: %v, want ErrClosed", err)
	}
	if got := s.inflight.Load(); got != 0 {
		t.Fatalf("inflight %d, want 0", got)
	}
	// Flush the executor's goroutine: a leftover task would run before this.
	done := make(chan struct{})
	_ = ex.goExec.Execute(func() { close(done) })
	<-done
	if got := s.inflight.Load(); got != 0 {
		t.Fatalf("inflight %d once the loop ran, want 0", got)
	}
}

// TestStopForgetsThread: after Stop, Post refuses and OnLoop is false even
// on the thread the loop ran on.
func TestStopForgetsThread(t *testing.T) {
	t.Parallel()
	sh := NewShard(0, "loop", newGoExec(t), Config{})
	before, after := make(chan bool), make(chan bool)
	stopped := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sh.BindThread()
		before <- sh.OnLoop()
		<-stopped
		after <- sh.OnLoop()
	}()
	if !<-before {
		t.Fatal("OnLoop false on the bound thread")
	}
	if sh.OnLoop() {
		t.Fatal("OnLoop true on another goroutine")
	}
	sh.Stop()
	close(stopped)
	if <-after {
		t.Fatal("OnLoop still true after Stop")
	}
	if err := sh.Post(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("post after Stop: %v, want ErrClosed", err)
	}
}

// TestHubPublishSkipsStoppedShard: a shard that refuses a publication does
// not keep the others from getting it (and its offset).
func TestHubPublishSkipsStoppedShard(t *testing.T) {
	t.Parallel()
	var h Hub
	shards := make([]*Shard, 3)
	trs := make([]*fakeTransport, 3)
	for i := range shards {
		shards[i] = h.Lookup(i, func(index int) *Shard { return NewShard(index, i, newGoExec(t), Config{}) })
		trs[i] = &fakeTransport{}
		run(t, shards[i], func() {
			var s Session
			shards[i].Open(&s, trs[i])
			s.MarkOpen()
			s.Subscribe("news")
		})
	}
	shards[0].Stop()
	off, err := h.Publish("news", []byte("hello"))
	if !errors.Is(err, ErrClosed) || off != 1 {
		t.Fatalf("publish: offset %d, %v; want 1 and ErrClosed", off, err)
	}
	for i := 1; i < len(shards); i++ {
		var got []string
		run(t, shards[i], func() { got = append(got, trs[i].msgs...) })
		if len(got) != 1 || got[0] != "hello" {
			t.Fatalf("shard %d got %q, want the publication", i, got)
		}
	}
	if err := h.Broadcast([]byte("all")); !errors.Is(err, ErrClosed) {
		t.Fatalf("broadcast: %v, want ErrClosed", err)
	}
	for i := 1; i < len(shards); i++ {
		var n int
		run(t, shards[i], func() { n = len(trs[i].msgs) })
		if n != 2 {
			t.Fatalf("shard %d: %d messages after the broadcast, want 2", i, n)
		}
	}
}

// hubTopics counts the hub's topic entries.
func hubTopics(h *Hub) int {
	n := 0
	h.topics.Range(func(any, any) bool { n++; return true })
	return n
}

// TestHubForgetsTopics: a topic's entry goes with its last subscriber, and
// its offsets start again with the next one; publishing to a topic nobody
// subscribes to leaves nothing behind.
func TestHubForgetsTopics(t *testing.T) {
	t.Parallel()
	var h Hub
	sh := h.Lookup("a", func(i int) *Shard { return NewShard(i, "a", newGoExec(t), Config{}) })
	var s Session
	run(t, sh, func() {
		sh.Open(&s, &fakeTransport{})
		s.MarkOpen()
	})
	if off, err := h.Publish("nobody", []byte("x")); off != 0 || err != nil {
		t.Fatalf("publish without subscribers: %d %v, want 0 and no error", off, err)
	}
	for round := range 3 {
		run(t, sh, func() { s.Subscribe("t") })
		for i := range 2 {
			if off, err := h.Publish("t", []byte("x")); err != nil || off != uint64(i+1) {
				t.Fatalf("round %d: offset %d %v, want %d", round, off, err, i+1)
			}
		}
		run(t, sh, func() { s.Unsubscribe("t") })
		if n := hubTopics(&h); n != 0 {
			t.Fatalf("round %d: %d topic entries left, want 0", round, n)
		}
		if _, off := h.Position("t"); off != 0 {
			t.Fatalf("offset %d of a forgotten topic", off)
		}
	}
}

// TestHubTopicChurn: one shard subscribes and unsubscribes a topic over and
// over while another subscribes once: the steady subscriber's shard stays
// known to the hub (an entry removed under it would lose its publications).
func TestHubTopicChurn(t *testing.T) {
	t.Parallel()
	var h Hub
	churn := h.Lookup("churn", func(i int) *Shard { return NewShard(i, "churn", newGoExec(t), Config{}) })
	steady := h.Lookup("steady", func(i int) *Shard { return NewShard(i, "steady", newGoExec(t), Config{}) })
	var cs, ss Session
	tr := &fakeTransport{}
	run(t, churn, func() { churn.Open(&cs, &fakeTransport{}); cs.MarkOpen() })
	run(t, steady, func() { steady.Open(&ss, tr); ss.MarkOpen() })

	const rounds = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range rounds {
			_ = churn.Post(func() { cs.Subscribe("t"); cs.Unsubscribe("t") })
		}
	}()
	run(t, steady, func() { ss.Subscribe("t") })
	wg.Wait()
	run(t, churn, func() {}) // the churn is over
	if _, err := h.Publish("t", []byte("for steady")); err != nil {
		t.Fatal(err)
	}
	// The inbox is FIFO: the delivery, if posted, runs before this.
	var got []string
	run(t, steady, func() { got = append(got, tr.msgs...) })
	if len(got) != 1 || got[0] != "for steady" {
		t.Fatalf("steady subscriber got %q, want the publication", got)
	}
}

// TestLinger: an answered connection is dropped at the close deadline,
// counted from when it lingers, whatever its handshake deadline; one that
// lingers while closing keeps the deadline it has.
func TestLinger(t *testing.T) {
	t.Parallel()
	tick := 100 * time.Millisecond
	cfg := Config{Tick: tick, HandshakeTimeout: 10 * time.Second, CloseTimeout: time.Second, PingInterval: -1}
	cases := []struct {
		name    string
		open    bool
		lingers int64 // tick Linger is called at
		before  int64 // last tick the connection must still be there
	}{
		{"answered request", false, 5, 14},
		{"failed session", true, 5, 14},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sh := NewShard(0, "loop", newGoExec(t), cfg)
			tr := &fakeTransport{}
			var s Session
			sh.Advance(1)
			sh.Open(&s, tr)
			if tc.open {
				s.MarkOpen()
			}
			sh.Advance(tc.lingers)
			if tc.open {
				s.MarkClosing()
			}
			s.Linger()
			s.Linger() // twice is once
			sh.Advance(tc.before)
			if tr.aborted {
				t.Fatalf("dropped by tick %d, before the close deadline", tc.before)
			}
			sh.Advance(tc.before + 1)
			if !tr.aborted {
				t.Fatal("not dropped at the close deadline")
			}
			if n := sh.Stats().Evictions(ReasonCloseTimeout); tc.open != (n == 1) {
				t.Fatalf("%d close-timeout evictions", n)
			}
		})
	}
}
