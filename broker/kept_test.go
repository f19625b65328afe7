package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// keptNode is a broker of its own hub, for the store's tests.
func keptNode(t *testing.T, url, id string, ttl time.Duration) *broker.KeptStore {
	t.Helper()
	s, _ := keptBroker(t, url, id, ttl)
	return s
}

// keptBroker is keptNode with its broker.
func keptBroker(t *testing.T, url, id string, ttl time.Duration) (*broker.KeptStore, *broker.Broker) {
	t.Helper()
	srv := server.New(server.NewPush(nil), &server.Config{Addr: "127.0.0.1:0", History: testHistory})
	b, err := broker.Start((*session.Hub)(srv.Hub()), &broker.Config{URL: url, NodeID: id, History: testHistory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s, err := b.KeptStore(ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// takeSync takes key from s and waits for the answer (a hang guard, not a
// timing assertion).
func takeSync(t *testing.T, s *broker.KeptStore, key string) ([]byte, error) {
	t.Helper()
	type answer struct {
		rec []byte
		err error
	}
	ch := make(chan answer, 1)
	s.Take(key, func(rec []byte, err error) { ch <- answer{rec, err} })
	select {
	case a := <-ch:
		return a.rec, a.err
	case <-time.After(20 * time.Second):
		t.Fatal("Take never answered")
		return nil, nil
	}
}

// waitStats waits until cond holds of s's counters.
func waitStats(t testing.TB, s *broker.KeptStore, what string, cond func(broker.KeptStats) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v", what, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKeptStorePutTake: a record one node files is taken by another,
// once; the filing node's later writes then fail (it files it no more),
// its own take finds nothing, and its deletes do nothing; a record
// deleted by its node is taken by none.
func TestKeptStorePutTake(t *testing.T) {
	ns := natstest.Start(t)
	a, b := keptNode(t, ns.URL(), "a", time.Minute), keptNode(t, ns.URL(), "b", time.Minute)
	a.Put("p1", []byte("r1"), false)
	a.Put("p1", []byte("r2"), false) // replaces r1
	waitStats(t, a, "two writes", func(s broker.KeptStats) bool { return s.Writes == 2 })
	if rec, err := takeSync(t, b, "p1"); err != nil || string(rec) != "r2" {
		t.Fatalf("b takes p1: %q %v, want r2", rec, err)
	}
	if rec, err := takeSync(t, b, "p1"); err != nil || rec != nil {
		t.Fatalf("b takes p1 again: %q %v, want none", rec, err)
	}
	// a does not know: its write loses to b's take.
	a.Put("p1", []byte("r3"), false)
	waitStats(t, a, "a's write refused", func(s broker.KeptStats) bool { return s.Failed == 1 })
	if rec, err := takeSync(t, a, "p1"); err != nil || rec != nil {
		t.Fatalf("a takes p1 after b: %q %v, want none", rec, err)
	}

	a.Put("p2", []byte("x"), false)
	a.Delete("p2")
	waitStats(t, a, "a delete", func(s broker.KeptStats) bool { return s.Deletes == 1 })
	if rec, err := takeSync(t, b, "p2"); err != nil || rec != nil {
		t.Fatalf("b takes a deleted record: %q %v", rec, err)
	}
	// A record taken on its own node is filed again by it (a recovered
	// socket keeps its pid).
	a.Put("p3", []byte("y"), false)
	if rec, _ := takeSync(t, a, "p3"); string(rec) != "y" {
		t.Fatalf("a takes its own p3: %q", rec)
	}
	a.Put("p3", []byte("z"), false)
	waitStats(t, a, "p3 filed again", func(s broker.KeptStats) bool { return s.Writes == 5 })
	if rec, _ := takeSync(t, b, "p3"); string(rec) != "z" {
		t.Fatalf("b takes p3 refiled: %q", rec)
	}
}

// TestKeptStoreFlush: once Flush returns, every operation queued before
// it is done.
func TestKeptStoreFlush(t *testing.T) {
	ns := natstest.Start(t)
	a := keptNode(t, ns.URL(), "a", time.Minute)
	const n = 300
	for i := range n {
		a.Put(fmt.Sprint("f", i), []byte("x"), false)
	}
	flushKept(t, a)
	if st := a.Stats(); st.Writes != n {
		t.Fatalf("after Flush: %+v, want %d writes", st, n)
	}
}

// TestKeptStoreTakeRace: many nodes take one record at once, round after
// round: exactly one gets it each time.
func TestKeptStoreTakeRace(t *testing.T) {
	ns := natstest.Start(t)
	owner := keptNode(t, ns.URL(), "owner", time.Minute)
	var takers []*broker.KeptStore
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		takers = append(takers, keptNode(t, ns.URL(), id, time.Minute))
	}
	for round := range 15 {
		key := "race" + string(rune('a'+round))
		owner.Put(key, []byte(key), false)
		waitStats(t, owner, "the write", func(s broker.KeptStats) bool { return s.Writes == uint64(round+1) })
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		start := make(chan struct{})
		for _, tk := range takers {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rec, err := takeSync(t, tk, key)
					if err != nil {
						t.Errorf("take: %v", err)
					}
					if rec != nil {
						mu.Lock()
						got++
						mu.Unlock()
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		if got != 1 {
			t.Fatalf("round %d: %d takes got the record, want 1", round, got)
		}
	}
}

// TestKeptStoreExpires: a record nobody writes again is gone once the
// bucket's TTL passed; a take before finds it.
func TestKeptStoreExpires(t *testing.T) {
	ns := natstest.Start(t)
	a := keptNode(t, ns.URL(), "a", time.Second)
	a.Put("old", []byte("o"), false)
	a.Put("young", []byte("y"), false)
	waitStats(t, a, "writes", func(s broker.KeptStats) bool { return s.Writes == 2 })
	if rec, _ := takeSync(t, a, "young"); string(rec) != "y" {
		t.Fatalf("take within the TTL: %q", rec)
	}
	// Three TTLs later (generous: NATS expires on a timer).
	time.Sleep(3 * time.Second)
	if rec, err := takeSync(t, a, "old"); err != nil || rec != nil {
		t.Fatalf("take three TTLs later: %q %v, want none", rec, err)
	}
}

// TestKeptStoreConnected: the record of a socket filed as connected is
// not taken, by another node or its own, while its node holds it so; once
// that node says the connection dropped, or is gone (its NATS connection
// closed, as a killed process's), another node takes it.
func TestKeptStoreConnected(t *testing.T) {
	ns := natstest.Start(t)
	a, ab := keptBroker(t, ns.URL(), "a", time.Minute)
	b := keptNode(t, ns.URL(), "b", time.Minute)
	a.Put("live", []byte("l1"), true)
	a.Put("drop", []byte("d1"), true)
	waitStats(t, a, "writes", func(s broker.KeptStats) bool { return s.Writes == 2 })
	for _, s := range []*broker.KeptStore{b, a} {
		if rec, err := takeSync(t, s, "live"); err != nil || rec != nil {
			t.Fatalf("take of a connected socket's record: %q %v, want none", rec, err)
		}
	}
	a.Put("drop", []byte("d2"), false)
	waitStats(t, a, "writes", func(s broker.KeptStats) bool { return s.Writes == 3 })
	if rec, err := takeSync(t, b, "drop"); err != nil || string(rec) != "d2" {
		t.Fatalf("take after the drop: %q %v, want d2", rec, err)
	}
	ab.Close() // node a is gone
	if rec, err := takeSync(t, b, "live"); err != nil || string(rec) != "l1" {
		t.Fatalf("take after its node went: %q %v, want l1", rec, err)
	}
}

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
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
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
func BenchmarkSocketIORecoveryBus(b *testing.B) {
	ns := natstest.Start(b)
	na, nb := startNode(b, ns.URL(), "a", nil), startNode(b, ns.URL(), "b", nil)
	varz := func() (in, out, inB, outB int64) {
		v, err := ns.Server().Varz(nil)
		if err != nil {
			b.Fatal(err)
		}
		return v.InMsgs, v.OutMsgs, v.InBytes, v.OutBytes
	}
	in0, out0, inB0, outB0 := varz()
	wa0, wb0 := na.kept.Stats(), nb.kept.Stats()
	b.ResetTimer()
	for i := range b.N {
		s, sid, pid := dialSIO(b, na.addr, "")
		s.subscribe(1, "bus-r1")
		s.subscribe(2, "bus-r2")
		waitStats(b, na.kept, "writes", func(st broker.KeptStats) bool { return st.Writes >= wa0.Writes+uint64(3+4*i) })
		_ = s.c.Close()
		waitStats(b, na.kept, "the drop", func(st broker.KeptStats) bool { return st.Writes >= wa0.Writes+uint64(4+4*i) })
		s2, sid2, _ := dialSIO(b, nb.addr, `{"pid":"`+pid+`"}`)
		if sid2 != sid {
			b.Fatalf("not recovered on b: %s, was %s", sid2, sid)
		}
		waitStats(b, nb.kept, "b's write", func(st broker.KeptStats) bool { return st.Writes >= wb0.Writes+uint64(1+i) })
		_ = s2.c.WriteMessage(1, []byte("41")) // leaves: the record is deleted
		waitStats(b, nb.kept, "b's delete", func(st broker.KeptStats) bool { return st.Deletes >= wb0.Deletes+uint64(1+i) })
		_ = s2.c.Close()
	}
	b.StopTimer()
	in1, out1, inB1, outB1 := varz()
	n := float64(b.N)
	b.ReportMetric(float64(in1-in0)/n, "msgs-in/socket")
	b.ReportMetric(float64(out1-out0)/n, "msgs-out/socket")
	b.ReportMetric(float64(inB1-inB0)/n, "bytes-in/socket")
	b.ReportMetric(float64(outB1-outB0)/n, "bytes-out/socket")
	wa, wb := na.kept.Stats(), nb.kept.Stats()
	b.ReportMetric(float64(wa.Writes-wa0.Writes+wb.Writes-wb0.Writes)/n, "writes/socket")
}
