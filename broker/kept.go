package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KeptStore keeps records by key in a JetStream key-value bucket that
// every node of the cluster shares: Socket.IO's connection state
// recovery files there the state of each socket (socketio.RecoveryStore),
// so that a client whose node died or dropped it recovers on any node.
// The store knows nothing of what a record holds.
//
// Nothing an event loop calls waits for NATS: Put, Delete and Take queue
// their operation for one of keptWorkers goroutines (the key picks it, so
// that one key's operations keep their order) and return at once; a full
// queue drops the operation and counts it (KeptStats.Dropped). Each key's
// writes are conditional on the revision the node wrote last (created
// when it knows none), so that once another node took a record, the
// writes of the node that filed it fail rather than file it again: only
// one Take gets a record. A conflict with a record the node filed itself
// (a write whose answer was lost) is adopted, once; a delete NATS did not
// answer is retried (see keptWorker).
//
// A record filed as connected (Put's connected) belongs to a socket that
// is still connected to its node, or whose node died: a Take asks that
// node (core NATS, <prefix>.kept.<node>) and takes the record only when
// the node no longer holds it connected or no longer answers at all (no
// responders: the process is gone). A socket still connected elsewhere
// is never taken over.
type KeptStore struct {
	b      *Broker
	bucket string
	node   string // this node's subject token
	sub    *nats.Subscription
	ttl    time.Duration
	seed   maphash.Seed
	queues [keptWorkers]chan keptOp

	// guards kv
	mu sync.Mutex
	kv jetstream.KeyValue

	writes, deletes, takes, taken, dropped, failed atomic.Uint64
}

// keptWorkers is the number of goroutines that run a KeptStore's
// operations; keptQueue bounds each one's queue.
const (
	keptWorkers = 4
	keptQueue   = 4096
)

// keptTimeout bounds one operation's round trip to NATS, and so the wait
// of a Take's caller.
const keptTimeout = 2 * time.Second

type keptKind uint8

const (
	keptPut keptKind = iota
	keptDelete
	keptTake
	keptHeld  // another node asks whether this one holds a key connected
	keptFlush // done is called once the operations before it are
)

type keptOp struct {
	kind keptKind
	key  string
	val  []byte
	done func([]byte, error) // keptTake
	at   time.Time           // when a Take was asked
	conn bool                // keptPut: filed as connected
	msg  *nats.Msg           // keptHeld: the question
}

// keptRev is what a node knows of a key it filed: the revision it wrote
// last, and whether as connected.
type keptRev struct {
	rev  uint64
	conn bool
}

// KeptStats are a KeptStore's counters since it started (in the
// node's cluster stats, NodeStats.Kept).
type KeptStats struct {
	// Writes and Deletes count the records filed (or refreshed) and
	// deleted in NATS; Takes the lookups asked, Taken those that got a
	// record.
	Writes  uint64 `json:"writes"`
	Deletes uint64 `json:"deletes"`
	Takes   uint64 `json:"takes"`
	Taken   uint64 `json:"taken"`
	// Dropped counts the operations refused because their queue was full
	// (a Take refused is answered at once: no record); Failed those NATS
	// refused or did not answer in time, a write that lost to another
	// node's Take included (a failed delete's retries are not counted).
	Dropped uint64 `json:"dropped"`
	Failed  uint64 `json:"failed"`
}

// ErrKeptUnavailable is what a Take's done gets when the store could not
// ask NATS (queue full, NATS unreachable or slow): the record, if any,
// stays where it is.
var ErrKeptUnavailable = errors.New("broker: kept-record store unavailable")

// KeptStore returns the node's store of kept records in the bucket
// "<PREFIX>_SIO" (created on first use, so a node that starts before NATS
// creates it when NATS comes), each record kept ttl after its last write.
// Call it once. Safe for concurrent use.
func (b *Broker) KeptStore(ttl time.Duration) (*KeptStore, error) {
	s := &KeptStore{b: b, bucket: strings.ToUpper(b.cfg.Prefix) + "_SIO", ttl: ttl, seed: maphash.MakeSeed(),
		node: encodeTopic(b.cfg.NodeID)}
	sub, err := b.nc.Subscribe(s.heldSubject(s.node), func(m *nats.Msg) {
		if !s.queue(keptOp{kind: keptHeld, key: string(m.Data), msg: m}) {
			_ = m.Respond(keptIsHeld) // busy: the safe answer
		}
	})
	if err != nil {
		return nil, fmt.Errorf("broker: subscribe %s: %w", s.heldSubject(s.node), err)
	}
	s.sub = sub
	b.kept.Store(s)
	for i := range s.queues {
		s.queues[i] = make(chan keptOp, keptQueue)
		go s.run(s.queues[i])
	}
	return s, nil
}

// heldSubject is the subject node answers on whether it holds a key.
func (s *KeptStore) heldSubject(node string) string { return s.b.cfg.Prefix + ".kept." + node }

// The answers to a keptHeld question.
var keptIsHeld, keptNotHeld = []byte("1"), []byte("0")

// Put files val under key, replacing the record this node filed there
// before, as the record of a socket connected to this node (connected)
// or not; it returns at once. Safe for concurrent use.
func (s *KeptStore) Put(key string, val []byte, connected bool) {
	s.queue(keptOp{kind: keptPut, key: key, val: wrapKept(s.node, connected, val), conn: connected})
}

// Delete removes the record this node filed under key, unless another
// node took it first; it returns at once. A delete NATS does not answer
// is retried until the record expires; meanwhile no Take, on this node
// or another, takes the record. Safe for concurrent use.
func (s *KeptStore) Delete(key string) { s.queue(keptOp{kind: keptDelete, key: key}) }

// Take removes the record filed under key by any node and calls done
// once, from another goroutine (or at once, from the caller's, when the
// queue is full), with it: (nil, nil) when there is none, a nil record
// and ErrKeptUnavailable when NATS could not be asked within about
// keptTimeout. Of several Takes of one record, one gets it. done must not
// block. Safe for concurrent use.
func (s *KeptStore) Take(key string, done func(rec []byte, err error)) {
	s.takes.Add(1)
	if !s.queue(keptOp{kind: keptTake, key: key, done: done, at: time.Now()}) {
		done(nil, ErrKeptUnavailable)
	}
}

// Flush waits until the operations queued before it are done, or ctx
// ends: a node that stops calls it once its sessions are closed (their
// records marked as dropped), before the broker closes. It waits; call
// it from no loop. Safe for concurrent use.
func (s *KeptStore) Flush(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range s.queues {
		wg.Add(1)
		op := keptOp{kind: keptFlush, done: func([]byte, error) { wg.Done() }}
		select {
		case q <- op:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.b.done:
			return ErrKeptUnavailable
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the store's counters. Safe for concurrent use.
func (s *KeptStore) Stats() KeptStats {
	return KeptStats{
		Writes: s.writes.Load(), Deletes: s.deletes.Load(), Takes: s.takes.Load(), Taken: s.taken.Load(),
		Dropped: s.dropped.Load(), Failed: s.failed.Load(),
	}
}

// queue hands op to its key's worker, and reports false (counted) when
// that queue is full or the broker closed.
func (s *KeptStore) queue(op keptOp) bool {
	select {
	case <-s.b.done:
		s.dropped.Add(1)
		return false
	default:
	}
	q := s.queues[maphash.String(s.seed, op.key)%keptWorkers]
	select {
	case q <- op:
		return true
	default:
		s.dropped.Add(1)
		return false
	}
}

// bucketKV returns the bucket, creating or binding it on first use.
func (s *KeptStore) bucketKV(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	storage := jetstream.FileStorage
	if s.b.cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := s.b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.bucket,
		Description: "c1m Socket.IO connection state recovery: a record per socket, by pid",
		History:     1,
		TTL:         s.ttl,
		Storage:     storage,
	})
	if err != nil {
		return nil, fmt.Errorf("broker: bucket %s: %w", s.bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// wrapKept returns a record as filed: a flag byte ('c' connected, 'g'
// not), the node's subject token and a newline, then val.
func wrapKept(node string, connected bool, val []byte) []byte {
	flag := byte('g')
	if connected {
		flag = 'c'
	}
	out := make([]byte, 0, 2+len(node)+len(val))
	out = append(append(append(out, flag), node...), '\n')
	return append(out, val...)
}

// unwrapKept reads what wrapKept wrote.
func unwrapKept(b []byte) (node string, connected bool, val []byte, ok bool) {
	if len(b) < 2 || (b[0] != 'c' && b[0] != 'g') {
		return "", false, nil, false
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return "", false, nil, false
	}
	return string(b[1:nl]), b[0] == 'c', b[nl+1:], true
}
