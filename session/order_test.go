package session

import (
	"fmt"
	"sync"
	"testing"

	"github.com/c1mhq/c1m/codec"
)

// orderTransport records the Order of each publication it is given.
type orderTransport struct {
	fakeTransport
	orders []uint64
}

func (o *orderTransport) WritePublication(p *Publication) error {
	o.orders = append(o.orders, p.Order)
	return nil
}

// TestOrderAcrossTopics: publishers of different topics at once, and
// every session of two shards, subscribed to all the topics, gets the
// publications in Order: strictly increasing, none missing.
func TestOrderAcrossTopics(t *testing.T) {
	t.Parallel()
	const topics, each = 4, 500
	h := &Hub{}
	h.SetHistory(HistoryConfig{Size: 10})
	var trs []*orderTransport
	var shards []*Shard
	for k := range 2 {
		sh := h.Lookup(k, func(i int) *Shard { return NewShard(i, k, newGoExec(t), Config{}) })
		shards = append(shards, sh)
		for range 2 {
			s, tr := &Session{}, &orderTransport{}
			run(t, sh, func() {
				sh.Open(s, tr)
				s.MarkOpen()
				for i := range topics {
					s.Subscribe(fmt.Sprint("t", i))
				}
			})
			trs = append(trs, tr)
		}
	}
	var wg sync.WaitGroup
	for i := range topics {
		wg.Go(func() {
			for range each {
				if _, err := h.Publish(fmt.Sprint("t", i), []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for k, tr := range trs {
		var got []uint64
		run(t, shards[k/2], func() { got = tr.orders })
		if len(got) != topics*each {
			t.Fatalf("session %d got %d publications, want %d", k, len(got), topics*each)
		}
		for j := 1; j < len(got); j++ {
			if got[j] <= got[j-1] {
				t.Fatalf("session %d: Order %d after %d", k, got[j], got[j-1])
			}
		}
	}
}

// TestSubscribeOrdered: a session subscribing to two topics from an Order
// gets, of each, what came after that Order, but at most from the
// position it was given, in Order; a topic whose position history no
// longer knows starts from now, Reset.
func TestSubscribeOrdered(t *testing.T) {
	t.Parallel()
	h, sh := historyHub(t, HistoryConfig{Size: 3})
	pub := func(topic string) *Publication {
		t.Helper()
		if _, err := h.Publish(topic, []byte(topic)); err != nil {
			t.Fatal(err)
		}
		return nil
	}
	for _, name := range []string{"a", "b", "a", "b", "a"} { // Orders 1..5
		pub(name)
	}
	ea, _ := h.Position("a")
	eb, _ := h.Position("b")
	s, tr := &Session{}, &orderTransport{}
	run(t, sh, func() { sh.Open(s, tr); s.MarkOpen() })
	var sts []Start
	run(t, sh, func() {
		// At Order 2, with everything given.
		sts = s.SubscribeOrdered([]string{"a", "b"}, []codec.Position{{Topic: "a", Epoch: ea, Offset: 3}, {Topic: "b", Epoch: eb, Offset: 2}}, 2)
	})
	var got []uint64
	run(t, sh, func() { got = append([]uint64(nil), tr.orders...) })
	if fmt.Sprint(got) != "[3 4 5]" || sts[0].Reset || sts[1].Reset {
		t.Fatalf("replayed Orders %v, starts %+v; want [3 4 5], no reset", got, sts)
	}
	pub("b") // Order 6, live
	run(t, sh, func() { got = append([]uint64(nil), tr.orders...) })
	if fmt.Sprint(got) != "[3 4 5 6]" {
		t.Fatalf("after a live one: %v", got)
	}
	for range 4 {
		pub("a") // history (3) drops a's Orders 3 and 5 and more
	}
	s2, tr2 := &Session{}, &orderTransport{}
	run(t, sh, func() { sh.Open(s2, tr2); s2.MarkOpen() })
	run(t, sh, func() {
		sts = s2.SubscribeOrdered([]string{"a"}, []codec.Position{{Topic: "a", Epoch: ea, Offset: 7}}, 2)
	})
	if !sts[0].Reset {
		t.Fatalf("start %+v: history no longer covers a from Order 2", sts[0])
	}
	_ = tr2
}
