package session

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Shard owns the sessions of one event loop: their table, their timers, the
// sessions with output to flush, and the inbox through which other
// goroutines reach them.
type Shard struct {
	index int
	key   any // identifies the loop in the Registry
	exec  Executor
	cfg   shardConfig
	stats Stats

	// tid is the OS thread of the shard's loop, which runs locked to it, so
	// OnLoop can tell the loop from any other goroutine.
	tid atomic.Int64

	hub *Hub // set when the shard joins a Hub

	// Loop-only state.
	sessions map[uint64]*Session
	topics   map[string]*topic
	open     int // sessions in StateOpen
	wheel    wheel
	now      int64 // current tick
	// The sessions with output to flush, in the order they were marked;
	// dirty[:flushed] are done. marked and written count positions in
	// that order since the shard began, so that a publication can tell
	// when every session it was queued for has been written.
	dirty           []*Session
	flushed         int
	marked, written uint64
	budget          int  // writes left until the budget is renewed (renewBudget)
	renewing        bool // a renewal is on its way
	// scheduleRenewal, when set (by tests), receives the renewal instead
	// of a goroutine or timer, so that a test decides when it arrives.
	scheduleRenewal func(renew func())
	flushing        bool       // Flush is running (it may be re-entered from a write)
	tasksRan        bool       // a drain ran since the last IOStarted
	quick           int        // budgets renewed at once in a row (renewBudget)
	idleSince       time.Time  // when the flush list last emptied (startRun)
	delivered       []delivery // fanned out, waiting for their writes, in marked order

	// backlog is the cost of the publications posted and not yet run
	// (publicationCost), against cfg.maxBacklog.
	backlog atomic.Int64

	// guards the fields below
	mu        sync.Mutex
	inbox     []func()
	spare     []func()
	scheduled bool // a drain is queued on the loop
	stopped   bool
	stopCh    chan struct{} // closed when stopped is set, made on first use (stopping)
}

// NewShard returns a shard for the loop identified by key (any comparable
// value, such as the loop itself), whose tasks run through exec.
func NewShard(index int, key any, exec Executor, cfg Config) *Shard {
	return &Shard{
		index:    index,
		key:      key,
		exec:     exec,
		cfg:      cfg.ticks(),
		sessions: make(map[uint64]*Session),
		topics:   make(map[string]*topic),
		budget:   flushSlice,
	}
}

// delivery is a publication fanned out on the shard, kept until the last
// session it was queued for has been written: then its fan-out latency is
// observed and its cost leaves the backlog.
type delivery struct {
	p    *Publication
	mark uint64 // Shard.marked when it was queued
	cost int64  // what it counts in the backlog
}

// Index returns the shard's index in its registry. Safe for concurrent use.
func (sh *Shard) Index() int { return sh.index }

// Hub returns the hub the shard belongs to, or nil. Safe for concurrent use
// once the shard is registered.
func (sh *Shard) Hub() *Hub { return sh.hub }

// Executor returns the executor the shard was made with. Safe for
// concurrent use.
func (sh *Shard) Executor() Executor { return sh.exec }

// Stats returns the shard's counters. Safe for concurrent use.
func (sh *Shard) Stats() *Stats { return &sh.stats }

// TickDuration is the shard's tick. Safe for concurrent use.
func (sh *Shard) TickDuration() time.Duration { return sh.cfg.tick }

// BindThread records that the calling goroutine, locked to its OS thread,
// is the shard's loop. Loop-only: call it from the loop.
func (sh *Shard) BindThread() { sh.tid.Store(int64(unix.Gettid())) }

// OnLoop reports whether the caller runs on the shard's loop. It relies on
// the loop goroutine being locked to its OS thread (BindThread); no other
// goroutine can run on that thread meanwhile. Safe for concurrent use.
func (sh *Shard) OnLoop() bool {
	tid := sh.tid.Load()
	return tid != 0 && tid == int64(unix.Gettid())
}

// Open creates a session in StateHandshake for a new connection and starts
// its handshake deadline. Loop-only.
func (sh *Shard) Open(s *Session, tr Transport) {
	*s = Session{
		id:       uint64(sh.index)<<shardIDShift | idSeq.Add(1),
		shard:    sh,
		tr:       tr,
		closeAt:  sh.now + sh.cfg.handshakeTicks,
		lastSeen: sh.now,
	}
	sh.sessions[s.id] = s
	sh.stats.Connections.Add(1)
	sh.reschedule(s)
}

// Closed removes a session whose connection is gone. Loop-only.
func (sh *Shard) Closed(s *Session) {
	if s.state == StateClosed {
		return
	}
	if s.state != StateHandshake {
		sh.open--
		sh.stats.Closed.Add(1)
		sh.stats.Sessions.Add(-1)
	}
	s.unsubscribeAll()
	s.state = StateClosed
	sh.wheel.remove(s)
	delete(sh.sessions, s.id)
	if !s.detached {
		sh.stats.Connections.Add(-1)
	}
}

// Session returns the session with id, or nil. Loop-only.
func (sh *Shard) Session(id uint64) *Session { return sh.sessions[id] }

// Len returns the number of sessions, in any state. Loop-only.
func (sh *Shard) Len() int { return len(sh.sessions) }

// Each calls fn for every open session until fn returns false. Loop-only.
func (sh *Shard) Each(fn func(*Session) bool) {
	for _, s := range sh.sessions {
		if s.state == StateOpen && !fn(s) {
			return
		}
	}
}

// reschedule asks the session when it next needs a look and moves it to
// that slot, replacing its current one.
func (sh *Shard) reschedule(s *Session) {
	sh.wheel.remove(s)
	if at := s.expire(sh.now); at > 0 && s.due == 0 && s.state != StateClosed {
		sh.wheel.schedule(s, at)
	}
}

// Advance moves the shard's clock to tick now, runs the deadlines that came
// due and flushes what they wrote (pings, close frames). Loop-only.
func (sh *Shard) Advance(now int64) {
	if now <= sh.now {
		return
	}
	sh.now = now
	sh.wheel.advance(now, (*Session).expire)
	sh.Flush()
}

// Now returns the shard's current tick. Loop-only.
func (sh *Shard) Now() int64 { return sh.now }

// deliver writes a publication costing cost in the backlog to the shard's
// subscribers of its topic, or to every open session for a broadcast.
// Loop-only.
//
// Queueing is memory work, tens of nanoseconds a subscriber
// (BenchmarkFanout), so it runs in one go; the writes, about 9 µs each,
// are what Flush slices so that the loop serves I/O in between.
func (sh *Shard) deliver(p *Publication, cost int64) {
	sh.stats.Publications.Add(1)
	n := 0
	if p.Topic == "" {
		for _, s := range sh.sessions {
			n += sh.deliverTo(s, p)
		}
	} else if t := sh.topics[p.Topic]; t != nil && (p.from == nil || p.from == t.hub) {
		for i, s := range t.subs {
			// A subscriber that started after p (SubscribeFrom) skips it.
			if p.Offset != 0 && p.Offset <= t.pos[i] {
				continue
			}
			t.pos[i] = p.Offset
			n += sh.deliverTo(s, p)
		}
	}
	sh.countDeliveries(p, n)
	sh.noteDelivered(p, cost, n)
}

// deliverTo queues one publication for one session and returns 1, or 0
// when the session is not open or its transport refused the publication
// (its backpressure policy applied).
func (sh *Shard) deliverTo(s *Session, p *Publication) int {
	if s.state != StateOpen || s.tr.WritePublication(p) != nil {
		return 0
	}
	sh.markDirty(s)
	return 1
}

// countDeliveries adds n deliveries of p to the counters, once per
// fan-out rather than once per session.
func (sh *Shard) countDeliveries(p *Publication, n int) {
	sh.stats.Deliveries.Add(uint64(n))
	sh.stats.MessagesOut.Add(uint64(n))
	sh.stats.BytesOut.Add(uint64(n * len(p.Data)))
}

// queuedCost is what one session's queue entry for a shared publication
// counts in the backlog until it is written.
const queuedCost = 16

// noteDelivered keeps p, queued for n sessions, until they have all been
// written; its cost, that of the n queue entries and the wire forms encoded
// for it by then stay in the backlog until then.
func (sh *Shard) noteDelivered(p *Publication, cost int64, n int) {
	if n == 0 { // it reached nobody here: no latency to observe
		sh.backlog.Add(-cost)
		return
	}
	extra := int64(n)*queuedCost + p.formBytes.Load()
	sh.backlog.Add(extra)
	sh.delivered = append(sh.delivered, delivery{p: p, mark: sh.marked, cost: cost + extra})
}

// Post queues fn to run on the shard's loop, after every task posted before
// it, and wakes the loop once per batch rather than once per task. Safe for
// concurrent use.
func (sh *Shard) Post(fn func()) error {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return ErrClosed
	}
	sh.inbox = append(sh.inbox, fn)
	wake := !sh.scheduled
	sh.scheduled = true
	sh.mu.Unlock()
	if wake {
		if err := sh.exec.Execute(sh.drain); err != nil {
			sh.fail()
			return err
		}
	}
	return nil
}

// fail handles an Executor that refused to run the drain: its loop is gone
// (gnet refuses only once the engine shuts down), so no queued task can run
// any more. The shard stops and drops the inbox, fn included, so that a
// caller that undoes its side effects on the error (Session.Send's inflight
// count) is not undone a second time by a later run of the task.
func (sh *Shard) fail() {
	sh.mu.Lock()
	sh.markStopped()
	clear(sh.inbox)
	sh.inbox = sh.inbox[:0]
	sh.scheduled = false
	sh.mu.Unlock()
}

// drain runs the inbox on the loop in FIFO order and flushes once.
func (sh *Shard) drain() {
	sh.tasksRan = true
	sh.mu.Lock()
	tasks := sh.inbox
	sh.inbox, sh.spare = sh.spare[:0], nil
	sh.scheduled = false
	sh.mu.Unlock()
	for i, fn := range tasks {
		fn()
		tasks[i] = nil
	}
	sh.mu.Lock()
	if sh.spare == nil {
		sh.spare = tasks[:0]
	}
	sh.mu.Unlock()
	sh.Flush()
}

// Stop refuses further posts (they return ErrClosed) and forgets the loop's
// thread, so OnLoop is false from then on: once gnet's loop ends, its OS
// thread may run other goroutines. Call it when the loop is about to stop
// (gnet's OnShutdown). Tasks already queued still run if the loop drains
// them. Safe for concurrent use.
func (sh *Shard) Stop() {
	sh.mu.Lock()
	sh.markStopped()
	sh.mu.Unlock()
	sh.tid.Store(0)
}

// EachState calls fn for every session of the shard, in any state. fn may
// close sessions. Loop-only.
func (sh *Shard) EachState(fn func(*Session)) {
	for _, s := range sh.sessions {
		fn(s)
	}
}

// publicationCost is what a publication of n bytes counts against
// MaxBacklog.
func publicationCost(n int) int64 { return int64(n + publicationOverhead) }

// backlogFull reports whether a publication costing cost would take the
// shard's inbox past MaxBacklog. Safe for concurrent use.
func (sh *Shard) backlogFull(cost int64) bool {
	max := sh.cfg.maxBacklog
	// An empty inbox takes any publication, so that one larger than the
	// cap is late rather than refused forever.
	n := sh.backlog.Load()
	return max > 0 && n > 0 && n+cost > max
}

// postDelivery posts the delivery of p, which counts cost in the backlog
// from now until every session it reaches has been written (settle). Safe
// for concurrent use.
func (sh *Shard) postDelivery(p *Publication, cost int64) error {
	return sh.postCounted(cost, func() { sh.deliver(p, cost) })
}

// postCounted posts fn, a delivery that counts cost in the backlog from
// now until it settles (noteDelivered and settle release it); a post that
// fails releases it at once. Safe for concurrent use.
func (sh *Shard) postCounted(cost int64, fn func()) error {
	sh.backlog.Add(cost)
	err := sh.Post(fn)
	if err != nil {
		sh.backlog.Add(-cost)
	}
	return err
}

// anyBacklogFull reports whether a publication costing cost would take any
// of shards past MaxBacklog. Safe for concurrent use.
func anyBacklogFull(shards []*Shard, cost int64) bool {
	for _, sh := range shards {
		if sh.backlogFull(cost) {
			return true
		}
	}
	return false
}

// Backlog returns the bytes of publications waiting in the shard's inbox
// or in its sessions' queues, as counted against MaxBacklog. Safe for
// concurrent use.
func (sh *Shard) Backlog() int64 { return sh.backlog.Load() }
