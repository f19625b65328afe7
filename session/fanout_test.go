package session

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// stepExec queues tasks for the test to run one at a time, so that a test
// can see what one pass of the loop did.
type stepExec struct {
	// guards the fields below
	mu    sync.Mutex
	tasks []func()
}

func (e *stepExec) Execute(fn func()) error {
	e.mu.Lock()
	e.tasks = append(e.tasks, fn)
	e.mu.Unlock()
	return nil
}

// next waits for the next task (a kick comes from another goroutine) and
// runs it; it reports false if none came within the wait.
func (e *stepExec) next(wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		e.mu.Lock()
		if len(e.tasks) > 0 {
			fn := e.tasks[0]
			e.tasks = e.tasks[1:]
			e.mu.Unlock()
			fn()
			return true
		}
		e.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFanoutFlushesInSlices: a publication to more sessions than one slice
// is written flushSlice sockets per pass of the loop, each pass ending in a
// wake-up for the next, so the loop polls for I/O in between; a publication
// arriving in the middle reaches every session after the first, once.
func TestFanoutFlushesInSlices(t *testing.T) {
	t.Parallel()
	const n = 2*flushSlice + flushSlice/2
	ex := &stepExec{}
	sh := NewShard(0, "loop", ex, Config{})
	trs := openSubscribers(sh, n)
	flushed := func() int { return totalFlushes(trs) }
	p1, p2 := NewPublication("t", 1, []byte("p1")), NewPublication("t", 2, []byte("p2"))
	if err := sh.Post(func() { sh.deliver(p1, 0) }); err != nil {
		t.Fatal(err)
	}
	const wait = 5 * time.Second
	if !ex.next(wait) {
		t.Fatal("no drain")
	}
	if got := flushed(); got != flushSlice {
		t.Fatalf("first pass flushed %d sockets, want one slice of %d", got, flushSlice)
	}
	// p2 arrives while p1's flush is in progress.
	if err := sh.Post(func() { sh.deliver(p2, 0) }); err != nil {
		t.Fatal(err)
	}
	// The first slice is flushed with p1 alone and again for p2; the rest
	// are flushed once, with both.
	want := n + flushSlice
	passes := 1
	for flushed() < want {
		if !ex.next(wait) {
			t.Fatalf("the flush stopped at %d of %d sockets", flushed(), want)
		}
		if passes++; passes > 10 {
			t.Fatal("the flush does not end")
		}
	}
	if got := flushed(); got != want || len(sh.dirty) != 0 {
		t.Fatalf("%d socket flushes, %d sessions still dirty; want %d and none", got, len(sh.dirty), want)
	}
	for i, tr := range trs {
		if fmt.Sprint(tr.msgs) != "[p1 p2]" {
			t.Fatalf("session %d got %v", i, tr.msgs)
		}
	}
	if passes < n/flushSlice+1 {
		t.Fatalf("%d passes for %d sockets: not sliced", passes, n)
	}
}

// TestPublishBacklog: publishers faster than a loop fill its inbox only up
// to MaxBacklog; past it Publish, Broadcast and SendTo refuse with
// ErrBacklog, send nothing and use no offset, and once the loop catches up
// publishing works again with the next offset.
func TestPublishBacklog(t *testing.T) {
	t.Parallel()
	const (
		payload = 100
		fits    = 10
	)
	ex := &stepExec{}
	var h Hub
	sh := h.Lookup("loop", func(index int) *Shard {
		return NewShard(index, "loop", ex, Config{MaxBacklog: fits * int(publicationCost(payload))})
	})
	tr := &fakeTransport{}
	var s Session
	sh.Open(&s, tr)
	s.MarkOpen()
	s.Subscribe("t")

	data := make([]byte, payload)
	for i := range fits {
		if off, err := h.Publish("t", data); err != nil || off != uint64(i+1) {
			t.Fatalf("publication %d: offset %d, %v", i, off, err)
		}
	}
	if off, err := h.Publish("t", data); !errors.Is(err, ErrBacklog) || off != 0 {
		t.Fatalf("publication past the backlog: offset %d, %v; want ErrBacklog", off, err)
	}
	if err := h.Broadcast(data); !errors.Is(err, ErrBacklog) {
		t.Fatalf("broadcast past the backlog: %v", err)
	}
	if err := h.SendTo(s.ID(), data); !errors.Is(err, ErrBacklog) {
		t.Fatalf("send past the backlog: %v", err)
	}
	if got, want := sh.Backlog(), int64(fits)*publicationCost(payload); got != want {
		t.Fatalf("backlog %d bytes, want %d", got, want)
	}

	for ex.next(0) { // the loop catches up
	}
	if len(tr.msgs) != fits || sh.Backlog() != 0 {
		t.Fatalf("%d delivered, backlog %d; want %d and 0", len(tr.msgs), sh.Backlog(), fits)
	}
	if off, err := h.Publish("t", data); err != nil || off != fits+1 {
		t.Fatalf("after the backlog: offset %d, %v; want %d", off, err, fits+1)
	}
	for ex.next(0) {
	}
	// A publication larger than the whole backlog is taken by an empty
	// inbox: late, never refused forever.
	big := make([]byte, 2*fits*int(publicationCost(payload)))
	if off, err := h.Publish("t", big); err != nil || off != fits+2 {
		t.Fatalf("publication over the cap into an empty inbox: offset %d, %v", off, err)
	}
}

// openSubscribers opens n sessions on sh subscribed to topic t.
func openSubscribers(sh *Shard, n int) []*fakeTransport {
	trs := make([]*fakeTransport, n)
	for i := range trs {
		trs[i] = &fakeTransport{}
		s := &Session{}
		sh.Open(s, trs[i])
		s.MarkOpen()
		s.Subscribe("t")
	}
	return trs
}

func totalFlushes(trs []*fakeTransport) (n int) {
	for _, tr := range trs {
		n += tr.flushes
	}
	return n
}

// TestFlushBudgetPerPass: the slice is a budget for a round of the loop,
// not for each Flush: the reads of a round, each ending in a Flush, and
// the tasks that follow them do not write a fan-out beyond it. The first
// read of the next round (after tasks ran, so the loop has polled) renews
// it; without reads, a timer does.
func TestFlushBudgetPerPass(t *testing.T) {
	t.Parallel()
	ex := &stepExec{}
	sh := NewShard(0, "loop", ex, Config{})
	// The renewal (a goroutine or a timer) arrives when the test says: on
	// a loaded machine it could land in the middle of the round below.
	var renewals []func()
	sh.scheduleRenewal = func(renew func()) { renewals = append(renewals, renew) }
	trs := openSubscribers(sh, 4*flushSlice)
	sh.deliver(NewPublication("t", 1, []byte("p")), 0)
	for range 20 { // twenty readable sockets in the same round
		sh.IOStarted()
		sh.Flush()
	}
	for range 20 { // twenty queued tasks in the same round
		sh.drain()
	}
	if got := totalFlushes(trs); got != flushSlice {
		t.Fatalf("one round wrote %d sockets, want its budget of %d", got, flushSlice)
	}
	sh.IOStarted() // the next round's first read
	sh.Flush()
	if got := totalFlushes(trs); got != 2*flushSlice {
		t.Fatalf("after the next round's first read %d sockets written, want %d", got, 2*flushSlice)
	}
	sh.IOStarted() // no tasks since: the same round
	sh.Flush()
	if got := totalFlushes(trs); got != 2*flushSlice {
		t.Fatalf("a second read of the round wrote: %d sockets, want %d", got, 2*flushSlice)
	}
	if len(renewals) == 0 {
		t.Fatal("the spent budget was not set to be renewed")
	}
	for _, renew := range renewals { // the timer's renewal
		renew()
	}
	for ex.next(wstestWait) && totalFlushes(trs) < 3*flushSlice {
	}
	if got := totalFlushes(trs); got != 3*flushSlice {
		t.Fatalf("after the timer's renewal %d sockets written, want %d", got, 3*flushSlice)
	}
}

// wstestWait bounds a wait for a task that a timer or goroutine posts.
const wstestWait = 5 * time.Second

// TestSteadyPublishing: while publications keep coming before the flush
// list empties, the list stays bounded (it is compacted, not grown from
// its head forever), each publication is settled once all its sessions
// are written (fan-out latency observed, cost out of the backlog), and the
// backlog returns to zero when the writes catch up.
func TestSteadyPublishing(t *testing.T) {
	t.Parallel()
	const subs, passes = 3 * flushSlice, 300
	sh := NewShard(0, "loop", &stepExec{}, Config{})
	trs := openSubscribers(sh, subs)
	published, maxLen := 0, 0
	for pass := range passes {
		sh.budget = flushSlice
		if pass%2 == 0 { // each session gets one write a pass, and the list never empties
			cost := publicationCost(1)
			sh.backlog.Add(cost)
			sh.deliver(NewPublication("t", uint64(pass), []byte("p")), cost)
			published++
		}
		sh.flushSlice()
		maxLen = max(maxLen, len(sh.dirty))
		if len(sh.dirty)-sh.flushed == 0 {
			t.Fatalf("pass %d: the list emptied; the test wants it never empty", pass)
		}
	}
	if maxLen > 2*subs {
		t.Fatalf("flush list reached %d entries for %d sessions", maxLen, subs)
	}
	settled, _ := sh.stats.FanoutLatency.Snapshot()
	var n uint64
	for _, c := range settled {
		n += c
	}
	if int(n) < published-2 {
		t.Fatalf("%d of %d publications settled while the list never emptied", n, published)
	}
	for len(sh.dirty)-sh.flushed > 0 {
		sh.budget = flushSlice
		sh.flushSlice()
	}
	if sh.Backlog() != 0 || len(sh.delivered) != 0 {
		t.Fatalf("after the writes caught up: backlog %d, %d deliveries unsettled", sh.Backlog(), len(sh.delivered))
	}
	if got := totalFlushes(trs); got < published*subs/2 {
		t.Fatalf("%d socket flushes for %d publications to %d sessions", got, published, subs)
	}
}

// TestForgottenTopicsPublicationsStayBehind: a publication still in a
// shard's inbox when its topic is forgotten (its last subscriber left)
// does not reach a subscriber who came after, whose topic restarted its
// numbering: offsets never go backwards for a client.
func TestForgottenTopicsPublicationsStayBehind(t *testing.T) {
	t.Parallel()
	ex := &stepExec{}
	var h Hub
	sh := h.Lookup("loop", func(index int) *Shard { return NewShard(index, "loop", ex, Config{}) })
	open := func() (*Session, *fakeTransport) {
		tr := &fakeTransport{}
		s := &Session{}
		sh.Open(s, tr)
		s.MarkOpen()
		return s, tr
	}
	early, _ := open()
	early.Subscribe("t")
	if off, _ := h.Publish("t", []byte("old")); off != 1 {
		t.Fatalf("first offset %d", off)
	}
	early.Unsubscribe("t") // the topic is forgotten, "old" still queued
	late, tr := open()
	late.Subscribe("t")
	if off, _ := h.Publish("t", []byte("new")); off != 1 {
		t.Fatalf("offset after the restart %d, want 1", off)
	}
	for ex.next(0) {
	}
	if fmt.Sprint(tr.msgs) != "[new]" {
		t.Fatalf("the late subscriber got %v, want only [new]", tr.msgs)
	}
}
