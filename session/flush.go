package session

import "time"

// markDirty adds s to the sessions to flush at the end of the batch.
func (sh *Shard) markDirty(s *Session) {
	if !s.dirty {
		if len(sh.dirty) == 0 {
			sh.startRun()
		}
		s.dirty = true
		sh.dirty = append(sh.dirty, s)
		sh.marked++
	}
}

// flushSlice is how many sockets one pass of the loop writes before it
// polls again. A loopback write costs about 9 µs, so a slice holds the loop
// for about 10 ms; a fan-out to 500k sessions leaves in about 500 slices
// with the loop's I/O served in between.
const flushSlice = 1024

// budgetRenewal is how long the loop goes without writing once it has
// spent its write budget, when no I/O shows that it has polled since.
//
// The budget cannot be renewed by the next task: gnet runs the tasks
// queued during a round, up to 256, before it polls again, and publishers
// posting while a slice is written would keep a round going slice after
// slice. The first read of a new round (IOStarted) proves the loop polled
// and renews the budget at once; without I/O, a timer does, by when the
// round has ended (its remaining tasks, with no budget to write, take
// microseconds). The first renewals of a run of writes are immediate
// (quickRenewals).
const budgetRenewal = 200 * time.Microsecond

// IOStarted tells the shard that its loop is serving I/O, which it does at
// the start of each round, after polling: if tasks ran since the last such
// call (the previous round's), the write budget is renewed. Call it at the
// start of each read callback. Loop-only.
func (sh *Shard) IOStarted() {
	if sh.tasksRan {
		sh.tasksRan = false
		sh.budget = flushSlice
		sh.quick = 0
	}
}

// Flush writes the output queued by sessions since their last flush, one
// write per socket, within the loop's write budget of flushSlice sockets;
// once it is spent, the rest is written when the budget is renewed, after
// the loop has polled for I/O again. Call it at the end of each callback.
// Loop-only.
//
// The budget is not per call: every OnTraffic flushes, and a per-call slice
// would let a pass with many readable sockets write a whole fan-out before
// it polls again.
func (sh *Shard) Flush() {
	// A write can close its connection inside it, and OnClose may flush
	// again: the outer flush carries on with what is marked meanwhile.
	if sh.flushing {
		return
	}
	sh.flushing = true
	rest := sh.flushSlice()
	sh.flushing = false
	if rest > 0 {
		sh.renewBudget()
	}
}

// flushSlice writes dirty sessions within the budget and returns how many
// are left. The list is consumed from its head and compacted once half of
// it is done, so a fan-out to n sessions costs O(n) however many slices it
// takes, and a list that never empties (steady publishing) does not grow.
func (sh *Shard) flushSlice() int {
	end := min(len(sh.dirty), sh.flushed+sh.budget)
	for i := sh.flushed; i < end; i++ {
		s := sh.dirty[i]
		sh.dirty[i] = nil
		s.dirty = false
		if s.state != StateClosed {
			s.tr.Flush()
		}
	}
	sh.budget -= end - sh.flushed
	sh.written += uint64(end - sh.flushed)
	sh.flushed = end
	switch rest := len(sh.dirty) - end; {
	case rest == 0:
		sh.dirty, sh.flushed = sh.dirty[:0], 0
		sh.quick = 0
		sh.idleSince = time.Now()
	case end >= flushSlice && end >= rest:
		copy(sh.dirty, sh.dirty[end:])
		clear(sh.dirty[rest:])
		sh.dirty, sh.flushed = sh.dirty[:rest], 0
	}
	sh.settle()
	return len(sh.dirty) - sh.flushed
}

// settle retires the deliveries whose sessions have all been written:
// their fan-out latency is observed and their cost leaves the backlog.
func (sh *Shard) settle() {
	k := 0
	var now time.Time
	for ; k < len(sh.delivered) && sh.delivered[k].mark <= sh.written; k++ {
		d := &sh.delivered[k]
		if now.IsZero() {
			now = time.Now()
		}
		sh.stats.FanoutLatency.Observe(now.Sub(d.p.At))
		sh.backlog.Add(-d.cost)
		*d = delivery{}
	}
	if k > 0 {
		rest := copy(sh.delivered, sh.delivered[k:])
		clear(sh.delivered[rest:])
		sh.delivered = sh.delivered[:rest]
	}
}

// startRun renews a spent write budget for a run of writes that starts
// after the loop has gone budgetRenewal without writing: by then the round
// that spent it has ended (the timer of renewBudget relies on the same
// gap), so the loop has polled. Without it, a fan-out to fewer sockets than
// a slice, spaced out in time, got what the last one left of the budget:
// from the second publication on, part of every fan-out waited for a
// renewal (a goroutine, a post and two hand-offs of the loop's thread,
// 0.1-3 ms each on the loaded 2-core machine, measured with a runtime
// trace at 1,000 subscribers a loop) before it was written. A run that
// starts sooner, in the round that spent the budget (publications posted
// while the last one was written), keeps what is left, so steady
// publishing still cannot keep the loop from polling. Loop-only.
func (sh *Shard) startRun() {
	if sh.budget < flushSlice && time.Since(sh.idleSince) >= budgetRenewal {
		sh.budget = flushSlice
	}
}

// quickRenewals is how many budgets in a row are renewed at once (by a
// task posted from another goroutine) before a renewal waits
// budgetRenewal: a fan-out of up to quickRenewals slices (8,192 sockets on
// a loop, about 80 ms of writes) pays no wait, and longer write runs still
// give the loop a gap in which its round ends and it polls.
const quickRenewals = 8

// renewBudget arranges for the write budget to be renewed, and the rest
// of the flush written: at once for the first quickRenewals in a row,
// then budgetRenewal from now. Loop-only.
func (sh *Shard) renewBudget() {
	if sh.renewing {
		return
	}
	sh.renewing = true
	renew := func() {
		_ = sh.Post(func() {
			sh.renewing = false
			sh.budget = flushSlice
		}) // the drain that runs it flushes
	}
	if sh.scheduleRenewal != nil {
		sh.scheduleRenewal(renew)
		return
	}
	if sh.quick < quickRenewals {
		sh.quick++
		go renew()
		return
	}
	sh.quick = 0
	time.AfterFunc(budgetRenewal, renew)
}
