package broker_test

// The store when NATS fails or answers late: writes NATS did not answer,
// lost answers, and deletes retried.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestKeptStoreNATSDown: a write NATS does not answer (it is down) fails
// and is counted, but the node keeps the revision it wrote last: its next
// write once NATS is back updates the record with the state then, and
// meanwhile it still answers that it holds the socket connected (another
// node takes nothing). A drop it could not file still counts: another
// node then takes the record (the last one filed).
func TestKeptStoreNATSDown(t *testing.T) {
	ns := natstest.Start(t)
	a, ab := keptBroker(t, ns.URL(), "a", time.Minute)
	b, bb := keptBroker(t, ns.URL(), "b", time.Minute)
	outage := func(during func()) {
		t.Helper()
		ns.Stop()
		waitFor(t, "NATS lost", func() bool { return ab.Ready() != nil && bb.Ready() != nil })
		during()
		ns.Restart()
		waitFor(t, "NATS back", func() bool { return ab.Ready() == nil && bb.Ready() == nil })
	}
	a.Put("p", []byte("v1"), true)
	waitStats(t, a, "the first write", func(s broker.KeptStats) bool { return s.Writes == 1 })
	outage(func() {
		a.Put("p", []byte("v2"), true)
		waitStats(t, a, "the write refused", func(s broker.KeptStats) bool { return s.Failed == 1 })
	})
	if rec, err := takeSync(t, b, "p"); err != nil || rec != nil {
		t.Fatalf("b takes a record a holds connected: %q %v, want none", rec, err)
	}
	a.Put("p", []byte("v3"), true)
	waitStats(t, a, "the write after NATS came back", func(s broker.KeptStats) bool { return s.Writes == 2 })
	outage(func() {
		a.Put("p", []byte("v4"), false)
		waitStats(t, a, "the drop refused", func(s broker.KeptStats) bool { return s.Failed == 2 })
	})
	if rec, err := takeSync(t, b, "p"); err != nil || string(rec) != "v3" {
		t.Fatalf("b takes the record of a socket dropped on a: %q %v, want v3", rec, err)
	}
}

// rawKept is the recovery bucket as another client of NATS sees it (not a
// node): the tests read it, and write in it behind a node's back. Its
// calls are bounded by jetstream's default timeout (a hang guard).
type rawKept struct {
	t  *testing.T
	nc *nats.Conn
	js jetstream.JetStream
	kv jetstream.KeyValue
}

func openRawKept(t *testing.T, url string) *rawKept {
	t.Helper()
	nc, js := natstest.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	kv, err := js.KeyValue(t.Context(), "C1M_SIO")
	if err != nil {
		t.Fatal(err)
	}
	return &rawKept{t: t, nc: nc, js: js, kv: kv}
}

// get returns the record under key as filed (wrapped), nil for none.
func (r *rawKept) get(key string) []byte {
	r.t.Helper()
	v, err := r.read(key)
	if err != nil {
		r.t.Fatalf("get %s: %v", key, err)
	}
	return v
}

// gone reports whether there is no record under key (false also when
// NATS did not answer).
func (r *rawKept) gone(key string) bool {
	v, err := r.read(key)
	return v == nil && err == nil
}

// read returns the record under key, nil for none.
func (r *rawKept) read(key string) ([]byte, error) {
	e, err := r.kv.Get(r.t.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

// subjects sets the subjects of the bucket's stream.
func (r *rawKept) subjects(subj string) {
	r.t.Helper()
	st, err := r.js.Stream(r.t.Context(), "KV_C1M_SIO")
	if err != nil {
		r.t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Subjects = []string{subj}
	if _, err := r.js.UpdateStream(r.t.Context(), cfg); err != nil {
		r.t.Fatal(err)
	}
}

// put writes val under key, unconditionally.
func (r *rawKept) put(key, val string) {
	r.t.Helper()
	if _, err := r.kv.Put(r.t.Context(), key, []byte(val)); err != nil {
		r.t.Fatalf("put %s: %v", key, err)
	}
}

// held asks node whether it holds key, as another node's Take does.
func (r *rawKept) held(node, key string) string {
	r.t.Helper()
	m, err := r.nc.Request("c1m.kept."+node, []byte(key), 10*time.Second)
	if err != nil {
		r.t.Fatalf("ask %s about %s: %v", node, key, err)
	}
	return string(m.Data)
}

// flushKept waits until the operations queued on s are done.
func flushKept(t *testing.T, s *broker.KeptStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a hang guard
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestKeptStoreLostAnswer: a write NATS made but whose answer the node
// did not get (here: the test writes the node's own record behind its
// back, so the revision moves without the node knowing) does not make the
// node stop filing the key: its next write conflicts, finds the record is
// its own, and writes again on that revision; the same for a Create. A
// record another node filed meanwhile is left alone: the node files that
// key no more.
func TestKeptStoreLostAnswer(t *testing.T) {
	ns := natstest.Start(t)
	a := keptNode(t, ns.URL(), "a", time.Minute)
	a.Put("p", []byte("v1"), true)
	flushKept(t, a)
	raw := openRawKept(t, ns.URL())
	raw.put("p", "ca\nv1") // a's write whose answer a lost
	a.Put("p", []byte("v2"), true)
	flushKept(t, a)
	if got := string(raw.get("p")); got != "ca\nv2" {
		t.Fatalf("after a's write over its own lost one: %q, want a's v2 (%+v)", got, a.Stats())
	}
	a.Put("p", []byte("v3"), false)
	flushKept(t, a)
	if got := string(raw.get("p")); got != "ga\nv3" {
		t.Fatalf("the write after: %q, want a's v3 (%+v)", got, a.Stats())
	}
	raw.put("q", "ga\nq0") // a's Create whose answer a lost
	a.Put("q", []byte("q1"), true)
	flushKept(t, a)
	if got := string(raw.get("q")); got != "ca\nq1" {
		t.Fatalf("after a's create over its own lost one: %q, want a's q1 (%+v)", got, a.Stats())
	}
	raw.put("q", "ca\nq2") // and its delete after
	a.Delete("q")
	flushKept(t, a)
	if !raw.gone("q") {
		t.Fatalf("a's delete after its own lost write: %q left (%+v)", raw.get("q"), a.Stats())
	}
	if st := a.Stats(); st.Writes != 4 || st.Deletes != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v, want 4 writes, 1 delete, none failed", st)
	}

	raw.put("p", "cb\nx") // node b's, after a take
	a.Put("p", []byte("v4"), true)
	flushKept(t, a)
	if got := string(raw.get("p")); got != "cb\nx" {
		t.Fatalf("a wrote over b's record: %q", got)
	}
	if got := raw.held("a", "p"); got != "0" {
		t.Fatalf("a says it holds a key b filed: %q", got)
	}
	if st := a.Stats(); st.Writes != 4 || st.Failed != 1 {
		t.Fatalf("stats %+v, want 4 writes, 1 failed", st)
	}
}

// TestKeptStoreDeleteRetried: the delete of a socket that left for good,
// which NATS did not make (JetStream unavailable, then NATS down), is
// retried until the record is gone; meanwhile the node answers that it
// holds the key (another node takes nothing) and its own Take takes
// nothing.
func TestKeptStoreDeleteRetried(t *testing.T) {
	ns := natstest.Start(t)
	a, ab := keptBroker(t, ns.URL(), "a", time.Minute)
	b, bb := keptBroker(t, ns.URL(), "b", time.Minute)
	a.Put("p", []byte("v1"), true)
	flushKept(t, a)
	raw := openRawKept(t, ns.URL())

	// The bucket's stream takes no writes (its subjects moved), core NATS
	// works: the delete fails, the question is answered.
	raw.subjects("$KV.C1M_SIO.elsewhere.>")
	a.Delete("p")
	waitStats(t, a, "the delete refused", func(s broker.KeptStats) bool { return s.Failed == 1 })
	if got := raw.held("a", "p"); got != "1" {
		t.Fatalf("a, its delete of p pending, answers %q, want held", got)
	}
	if rec, err := takeSync(t, a, "p"); err != nil || rec != nil {
		// nil, nil: no record to recover; not "unavailable" either.
		t.Fatalf("a takes a record whose delete is pending: %q %v", rec, err)
	}
	raw.subjects("$KV.C1M_SIO.>")
	waitFor(t, "the record deleted", func() bool { return raw.gone("p") })
	if rec, err := takeSync(t, b, "p"); err != nil || rec != nil {
		t.Fatalf("b takes p after its delete: %q %v", rec, err)
	}
	if st := a.Stats(); st.Deletes != 1 {
		t.Fatalf("a's stats %+v, want 1 delete", st)
	}

	// NATS down: the same once it is back.
	a.Put("r", []byte("w1"), true)
	flushKept(t, a)
	ns.Stop()
	waitFor(t, "NATS lost", func() bool { return ab.Ready() != nil && bb.Ready() != nil })
	a.Delete("r")
	waitStats(t, a, "the delete refused", func(s broker.KeptStats) bool { return s.Failed == 2 })
	ns.Restart()
	waitFor(t, "NATS back", func() bool { return ab.Ready() == nil && bb.Ready() == nil && raw.nc.IsConnected() })
	if rec, err := takeSync(t, b, "r"); err != nil || rec != nil {
		t.Fatalf("b takes r, left for good on a: %q %v", rec, err)
	}
	waitFor(t, "the record deleted", func() bool { return raw.gone("r") })
	if st := a.Stats(); st.Deletes != 2 {
		t.Fatalf("a's stats %+v, want 2 deletes", st)
	}
}

// BenchmarkSocketIORecoveryBus: what Socket.IO recovery across nodes
// costs on the bus, per socket, for the life of a socket that connects to
// node a, joins two rooms, drops its connection, recovers on node b and
// leaves: NATS messages and bytes in and out (nats-server's counters),
// and the records written.
