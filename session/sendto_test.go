package session

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// lockedExec runs tasks in order on one goroutine locked to its OS thread
// and bound to sh, as gnet runs a loop: there sh.OnLoop is true.
type lockedExec struct {
	tasks chan func()
}

func newLockedExec(t *testing.T) *lockedExec {
	e := &lockedExec{tasks: make(chan func(), 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for fn := range e.tasks {
			fn()
		}
	}()
	t.Cleanup(func() { close(e.tasks); <-done })
	return e
}

func (e *lockedExec) Execute(fn func()) error { e.tasks <- fn; return nil }

// loopShard adds a shard run by a lockedExec to h.
func loopShard(t *testing.T, h *Hub, key string) *Shard {
	ex := newLockedExec(t)
	sh := h.Lookup(key, func(index int) *Shard { return NewShard(index, key, ex, Config{}) })
	run(t, sh, sh.BindThread)
	return sh
}

// openOn opens a session on sh's loop.
func openOn(t *testing.T, sh *Shard) (*Session, *fakeTransport) {
	s, tr := new(Session), &fakeTransport{}
	run(t, sh, func() { sh.Open(s, tr); s.MarkOpen() })
	return s, tr
}

// TestHubSendToGone: SendTo a session that has ended says so, from any
// goroutine but another loop; to a live one it delivers.
func TestHubSendToGone(t *testing.T) {
	t.Parallel()
	var h Hub
	sh := loopShard(t, &h, "a")
	live, tr := openOn(t, sh)
	gone, _ := openOn(t, sh)
	closing, _ := openOn(t, sh)
	run(t, sh, func() {
		sh.Closed(gone)
		closing.close(1000, "")
	})

	cases := []struct {
		name string
		id   uint64
		want error
	}{
		{"live", live.ID(), nil},
		{"gone", gone.ID(), ErrNotFound},
		{"closing", closing.ID(), ErrClosed},
		{"no such shard", 7 << shardIDShift, ErrNotFound},
	}
	for _, tc := range cases {
		if err := h.SendTo(tc.id, []byte(tc.name)); !errors.Is(err, tc.want) {
			t.Errorf("%s, from another goroutine: %v, want %v", tc.name, err, tc.want)
		}
		var err error
		run(t, sh, func() { err = h.SendTo(tc.id, []byte(tc.name)) })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s, on the session's loop: %v, want %v", tc.name, err, tc.want)
		}
	}
	var got []string
	run(t, sh, func() { got = tr.msgs })
	if len(got) != 2 || got[0] != "live" || got[1] != "live" {
		t.Fatalf("live session got %q, want two messages", got)
	}
}

// TestHubSendToFromAnotherLoop: a loop never waits for another: SendTo
// from one loop to a session on a loop that is busy returns at once.
func TestHubSendToFromAnotherLoop(t *testing.T) {
	t.Parallel()
	var h Hub
	a, b := loopShard(t, &h, "a"), loopShard(t, &h, "b")
	s, tr := openOn(t, b)
	hold := make(chan struct{})
	if err := b.Post(func() { <-hold }); err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	if err := a.Post(func() { returned <- h.SendTo(s.ID(), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("send from another loop: %v", err)
		}
	case <-time.After(10 * time.Second): // a bound, not a wait: the send returns at once
		t.Fatal("SendTo on one loop waited for another")
	}
	close(hold)
	var got []string
	run(t, b, func() { got = tr.msgs })
	if len(got) != 1 {
		t.Fatalf("session got %q, want the message", got)
	}
}

// TestHubSendToStoppedShard: a sender waiting for a shard's answer is
// released when the shard stops before running its task.
func TestHubSendToStoppedShard(t *testing.T) {
	t.Parallel()
	var h Hub
	sh := loopShard(t, &h, "a")
	s, _ := openOn(t, sh)
	held, hold := make(chan struct{}), make(chan struct{})
	defer close(hold)
	if err := sh.Post(func() { close(held); <-hold }); err != nil {
		t.Fatal(err)
	}
	<-held
	returned := make(chan error, 1)
	go func() { returned <- h.SendTo(s.ID(), []byte("x")) }()
	for !inboxHolds(sh) { // the send is queued behind the held task
		runtime.Gosched()
	}
	sh.Stop()
	if err := <-returned; !errors.Is(err, ErrClosed) {
		t.Fatalf("send to a stopping shard: %v, want ErrClosed", err)
	}
}

// inboxHolds reports whether a task waits in sh's inbox.
func inboxHolds(sh *Shard) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.inbox) > 0
}
