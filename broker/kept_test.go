package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
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
