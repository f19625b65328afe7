package session

import "golang.org/x/sys/unix"

// sendTo writes p, which counts cost in the backlog, to the session with id
// and says what became of it: ErrNotFound when the session has ended,
// ErrClosed when it is closing, the transport's refusal (its slow-client
// policy), or nil. Loop-only.
func (sh *Shard) sendTo(id uint64, p *Publication, cost int64) error {
	s := sh.sessions[id]
	var err error
	switch {
	case s == nil:
		err = ErrNotFound
	case s.state != StateOpen:
		err = ErrClosed
	default:
		err = s.tr.WritePublication(p)
	}
	n := 0
	if err == nil {
		sh.markDirty(s)
		n = 1
	}
	sh.countDeliveries(p, n)
	sh.noteDelivered(p, cost, n)
	return err
}

// postWait posts fn, a delivery that counts cost in the backlog (see
// postCounted), and waits for its answer: until the loop runs it, or the
// shard stops (ErrClosed: a task queued then may never run). Call it only
// from a goroutine that is not an event loop. Safe for concurrent use.
func (sh *Shard) postWait(cost int64, fn func() error) error {
	answer := make(chan error, 1) // the task never blocks on a sender gone
	if err := sh.postCounted(cost, func() { answer <- fn() }); err != nil {
		return err
	}
	select {
	case err := <-answer:
		return err
	case <-sh.stopping():
		select {
		case err := <-answer:
			return err
		default:
			return ErrClosed
		}
	}
}

// stopping returns a channel closed once the shard stops taking tasks.
// Safe for concurrent use.
func (sh *Shard) stopping() <-chan struct{} {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stopCh == nil {
		sh.stopCh = make(chan struct{})
		if sh.stopped {
			close(sh.stopCh)
		}
	}
	return sh.stopCh
}

// markStopped refuses further tasks and releases the senders waiting for
// the shard (postWait). Called with sh.mu held.
func (sh *Shard) markStopped() {
	if !sh.stopped && sh.stopCh != nil {
		close(sh.stopCh)
	}
	sh.stopped = true
}

// onAnyLoop reports whether the caller runs on the loop of one of the hub's
// shards. Safe for concurrent use.
func (h *Hub) onAnyLoop() bool {
	tid := int64(unix.Gettid())
	for _, sh := range h.Shards() {
		if sh.tid.Load() == tid {
			return true
		}
	}
	return false
}
