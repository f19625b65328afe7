package session

import (
	"errors"
	"testing"

	"github.com/c1mhq/c1m/codec"
)

// heldSession opens a session on a shard whose loop the test holds until
// the returned release is called, so that sends from the test pile up in
// the inbox.
func heldSession(t *testing.T, cfg Config) (s *Session, release func()) {
	t.Helper()
	block := make(chan struct{})
	ex := newGoExec(t)
	sh := NewShard(0, "loop", ex, cfg)
	s = new(Session)
	ran := make(chan struct{})
	_ = ex.Execute(func() {
		sh.Open(s, &fakeTransport{})
		s.MarkOpen()
		close(ran)
		<-block
	})
	<-ran
	return s, func() { close(block) }
}

// TestSendCountsMessageCost: empty sends from another goroutine are not
// free: each counts sendOverhead against MaxInflight, so a producer cannot
// queue a million of them for a loop that does not keep up.
func TestSendCountsMessageCost(t *testing.T) {
	t.Parallel()
	const fit = 10
	s, release := heldSession(t, Config{MaxInflight: fit * sendOverhead})
	defer release()
	accepted := 0
	var err error
	for ; accepted < 1_000_000; accepted++ {
		if err = s.Send(codec.OpBinary, nil); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrBacklog) || accepted != fit {
		t.Fatalf("%d empty sends accepted, then %v; want %d, then ErrBacklog", accepted, err, fit)
	}
}

// idleExec never runs what it is given: a loop that does not keep up.
type idleExec struct{}

func (idleExec) Execute(func()) error { return nil }

// BenchmarkSendQueued measures what an empty send from another goroutine
// allocates while the loop does not run it (B/op), which sendOverhead
// stands for.
func BenchmarkSendQueued(b *testing.B) {
	sh := NewShard(0, "loop", idleExec{}, Config{MaxInflight: -1})
	s := new(Session)
	sh.Open(s, &fakeTransport{})
	s.MarkOpen()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(codec.OpBinary, nil); err != nil {
			b.Fatal(err)
		}
	}
}
