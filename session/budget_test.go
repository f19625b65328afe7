package session

import (
	"testing"
	"time"
)

// TestSmallFanoutBudget: a fan-out to fewer sockets than a slice is written
// in the pass that delivers it when the loop has gone budgetRenewal without
// writing since the last one (its round is over: the budget is whole
// again), and not split by a renewal for what the previous fan-out spent.
// One that follows in the same round (posted while the last was written)
// gets only what that round left, and the rest waits for a renewal: steady
// publishing still cannot keep the loop from polling.
func TestSmallFanoutBudget(t *testing.T) {
	t.Parallel()
	const n = flushSlice * 3 / 4 // the second fan-out does not fit in what the first leaves
	for _, tc := range []struct {
		name      string
		idle      bool // the loop went budgetRenewal without writing in between
		firstPass int  // sockets the second fan-out's pass writes
	}{
		{"after an idle gap", true, n},
		{"in the same round", false, flushSlice - n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := &stepExec{}
			sh := NewShard(0, "loop", ex, Config{})
			trs := openSubscribers(sh, n)
			publish := func(off uint64) {
				t.Helper()
				p := NewPublication("t", off, []byte("p"))
				if err := sh.Post(func() { sh.deliver(p, 0) }); err != nil {
					t.Fatal(err)
				}
				if !ex.next(wstestWait) {
					t.Fatal("no drain")
				}
			}
			publish(1)
			if got := totalFlushes(trs); got != n {
				t.Fatalf("first fan-out: %d sockets written in its pass, want %d", got, n)
			}
			if tc.idle {
				sh.idleSince = sh.idleSince.Add(-budgetRenewal)
			} else {
				// However long the test's goroutine waits for a core
				// before the next post (a loaded machine can take more
				// than budgetRenewal), the loop has not polled.
				sh.idleSince = sh.idleSince.Add(time.Hour)
			}
			publish(2)
			if got := totalFlushes(trs) - n; got != tc.firstPass {
				t.Fatalf("second fan-out: %d sockets written in its pass, want %d", got, tc.firstPass)
			}
			for totalFlushes(trs) < 2*n && ex.next(wstestWait) { // a renewal, if one is due
			}
			if got := totalFlushes(trs); got != 2*n || len(sh.dirty) != 0 {
				t.Fatalf("%d socket flushes, %d sessions still dirty; want %d and none", got, len(sh.dirty), 2*n)
			}
		})
	}
}
