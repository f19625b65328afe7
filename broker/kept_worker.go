package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// keptRetry is how long after a delete NATS did not answer (and after
// each round of retries that failed) a worker tries its pending deletes
// again; keptRetryBatch bounds the deletes one round tries, so that the
// operations queued meanwhile wait little.
const (
	keptRetry      = time.Second
	keptRetryBatch = 256
)

// keptDelMax bounds each worker's pending deletes: a delete that fails
// beyond it is not retried (its record expires with the bucket's TTL).
const keptDelMax = 16384

// keptWorker is one goroutine's state: what the node knows of the keys it
// runs the operations of.
type keptWorker struct {
	s *KeptStore
	// revs is the revision this node last wrote of each key it holds: its
	// next write is conditional on it.
	revs map[string]keptRev
	// dels are the keys whose socket left for good but whose delete NATS
	// did not answer (down, slow): retried until done, taken by another
	// node, or expired (until: the bucket's TTL surely passed). Meanwhile
	// the node answers that it holds them (another node's Take does not
	// take them) and its own Take does not take them either.
	dels map[string]keptDel
}

type keptDel struct {
	rev   uint64 // the revision the node wrote last
	until time.Time
}

// run performs the operations of one queue, in order, and retries its
// pending deletes, until the broker closes.
func (s *KeptStore) run(q chan keptOp) {
	w := &keptWorker{s: s, revs: map[string]keptRev{}, dels: map[string]keptDel{}}
	retry := time.NewTimer(keptRetry)
	retry.Stop()
	armed := false
	for {
		select {
		case <-s.b.done:
			retry.Stop()
			return
		case op := <-q:
			w.do(op)
		case <-retry.C:
			armed = false
			w.retry()
		}
		if len(w.dels) > 0 && !armed {
			retry.Reset(keptRetry)
			armed = true
		}
	}
}

// isConflict reports whether err is a conditional write's refusal: the
// key is not at the revision the write was conditional on.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// do performs one operation.
func (w *keptWorker) do(op keptOp) {
	s := w.s
	if op.kind == keptFlush {
		op.done(nil, nil)
		return
	}
	if op.kind == keptHeld {
		ans := keptNotHeld
		if r, ok := w.revs[op.key]; ok && r.conn {
			ans = keptIsHeld
		} else if _, ok := w.dels[op.key]; ok {
			// Left for good, its delete pending: not for the taking.
			ans = keptIsHeld
		}
		_ = op.msg.Respond(ans)
		return
	}
	deadline := time.Now().Add(keptTimeout)
	if op.kind == keptTake {
		// A Take's caller waits: it is answered within about keptTimeout of
		// its asking, however long its queue was.
		deadline = op.at.Add(keptTimeout)
		if !time.Now().Before(deadline) {
			s.failed.Add(1)
			op.done(nil, ErrKeptUnavailable)
			return
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	kv, err := s.bucketKV(ctx)
	if err != nil {
		s.failed.Add(1)
		switch op.kind {
		case keptTake:
			op.done(nil, ErrKeptUnavailable)
		case keptDelete:
			w.forgetForDelete(op.key)
		}
		return
	}
	switch op.kind {
	case keptPut:
		w.put(ctx, kv, op)
	case keptDelete:
		if last, ok := w.forgetForDelete(op.key); ok {
			w.deleteAt(ctx, kv, op.key, last, true)
		}
	case keptTake:
		if r, ok := w.revs[op.key]; ok && r.conn {
			// Connected to this node: not taken over.
			op.done(nil, nil)
			return
		}
		if d, ok := w.dels[op.key]; ok {
			// Left for good: not recovered. Its delete is tried again.
			w.deleteAt(ctx, kv, op.key, d.rev, false)
			op.done(nil, nil)
			return
		}
		delete(w.revs, op.key)
		rec, err := s.take(ctx, kv, op.key)
		if err != nil {
			s.failed.Add(1)
			op.done(nil, fmt.Errorf("%w: %w", ErrKeptUnavailable, err))
			return
		}
		if rec != nil {
			s.taken.Add(1)
		}
		op.done(rec, nil)
	}
}

// forgetForDelete drops key from revs, for its delete, and returns the
// revision to delete: the one the node wrote last, or that of a delete
// still pending. The key is pending (when the delete succeeds it is
// forgotten), so that a delete that cannot be asked is retried.
func (w *keptWorker) forgetForDelete(key string) (uint64, bool) {
	last, ok := w.revs[key]
	delete(w.revs, key)
	if !ok {
		d, ok := w.dels[key]
		return d.rev, ok
	}
	w.pend(key, last.rev)
	return last.rev, true
}

// pend remembers the delete of key at rev as pending, within keptDelMax.
func (w *keptWorker) pend(key string, rev uint64) {
	if _, ok := w.dels[key]; !ok && len(w.dels) >= keptDelMax {
		return
	}
	// The record was written before now: it expires within the TTL, and
	// NATS's expiry timer within a second or so after.
	w.dels[key] = keptDel{rev: rev, until: time.Now().Add(w.s.ttl + keptTimeout)}
}

// put files op's record, conditional on the revision the node wrote last
// (created when it knows none, or had its delete pending: then updated).
func (w *keptWorker) put(ctx context.Context, kv jetstream.KeyValue, op keptOp) {
	s := w.s
	last, known := w.revs[op.key]
	if d, ok := w.dels[op.key]; ok && !known {
		// Filed again after its delete failed: the record is the node's.
		last, known = keptRev{rev: d.rev}, true
	}
	delete(w.dels, op.key)
	var rev uint64
	var err error
	if known {
		rev, err = kv.Update(ctx, op.key, op.val, last.rev)
	} else {
		rev, err = kv.Create(ctx, op.key, op.val)
	}
	if err != nil && isConflict(err) {
		// Another node took the record, or it expired, or the answer to
		// the node's own last write was lost (NATS wrote it, the node saw
		// a timeout): in that case the record is the node's, at a revision
		// it does not know; it adopts it and writes again, once.
		switch own, mine, rerr := w.ownRevision(ctx, kv, op.key); {
		case rerr != nil:
			err = rerr // not read: as if NATS did not answer the write
		case mine:
			rev, err = kv.Update(ctx, op.key, op.val, own)
		}
	}
	if err != nil {
		s.failed.Add(1)
		if !isConflict(err) {
			// NATS did not answer (down, reconnecting, slow): the
			// record stays as this node wrote it last, and its next
			// write (a refresh at the latest) updates that revision
			// with the state then. Forgetting it would make every
			// later write a Create that the record refuses until it
			// expires. Whether the key is connected here is what
			// the node knows now.
			if known {
				w.revs[op.key] = keptRev{last.rev, op.conn}
			}
			return
		}
		// Another node took the record (or, written too late, it
		// expired): this node files it no more.
		delete(w.revs, op.key)
		return
	}
	w.revs[op.key] = keptRev{rev, op.conn}
	s.writes.Add(1)
}

// ownRevision reads the record under key and returns its revision and
// whether this node filed it (the wrapped node token is its own); false
// when another node did or there is none (taken, expired); an error when
// NATS did not answer.
func (w *keptWorker) ownRevision(ctx context.Context, kv jetstream.KeyValue, key string) (uint64, bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	node, _, _, ok := unwrapKept(e.Value())
	return e.Revision(), ok && node == w.s.node, nil
}

// deleteAt deletes the record under key on condition that it is at rev,
// the revision this node wrote last (or, when that conflicts, at the
// revision of the node's own record, whose write's answer was lost). The
// key was pending: it is forgotten once deleted, or found taken by
// another node, or gone; it stays pending when NATS did not answer, and
// deleteAt then reports false. count says whether a failure is counted
// (a retry's is not).
func (w *keptWorker) deleteAt(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64, count bool) bool {
	err := kv.Delete(ctx, key, jetstream.LastRevision(rev))
	if err != nil && isConflict(err) {
		// Taken by another node (done), expired, or the node's own write
		// whose answer was lost: that record the node deletes.
		own, mine, rerr := w.ownRevision(ctx, kv, key)
		switch {
		case rerr != nil:
			err = rerr // not read: tried again later
		case mine:
			if err = kv.Delete(ctx, key, jetstream.LastRevision(own)); err != nil && !isConflict(err) {
				w.pend(key, own)
			}
		}
	}
	if err != nil && !isConflict(err) {
		if count {
			w.s.failed.Add(1)
		}
		return false
	}
	delete(w.dels, key)
	if err == nil {
		w.s.deletes.Add(1)
	}
	return true
}

// retry tries the pending deletes again, forgetting the expired ones,
// until one fails (NATS still does not answer) or keptRetryBatch did.
func (w *keptWorker) retry() {
	now := time.Now()
	for key, d := range w.dels {
		if now.After(d.until) {
			delete(w.dels, key)
		}
	}
	if len(w.dels) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), keptTimeout)
	defer cancel()
	kv, err := w.s.bucketKV(ctx)
	if err != nil {
		return
	}
	n := 0
	for key, d := range w.dels {
		if n == keptRetryBatch || !w.deleteAt(ctx, kv, key, d.rev, false) {
			return
		}
		n++
	}
}

// take reads the record under key and deletes it on condition that it is
// still that revision: of two nodes taking it at once, the second one's
// delete fails, and it reads again (finding none, or the record's owner's
// newer write, which it then takes). A record filed as connected by
// another node is taken only when that node no longer holds it or is
// gone.
func (s *KeptStore) take(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, error) {
	for range 3 {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		node, conn, val, ok := unwrapKept(e.Value())
		if !ok {
			return nil, nil // no node files that
		}
		if conn && node != s.node {
			ans, err := s.b.nc.RequestWithContext(ctx, s.heldSubject(node), []byte(key))
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				// The node is gone: its record is for the taking.
			case err != nil:
				return nil, err
			case string(ans.Data) != string(keptNotHeld):
				return nil, nil // still connected there
			}
		}
		err = kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		if err == nil {
			return val, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, errors.New("broker: kept record changing under every take")
}
