package session

import (
	"slices"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// nopBus is a Bus that takes nothing: the tests below deliver by hand, as
// a broker would, what the cluster numbered.
type nopBus struct{}

func (nopBus) Publish(string, []byte) (uint64, error) { return 0, ErrUnavailable }
func (nopBus) PublishAsync(string, []byte, func(uint64, error)) error {
	return ErrUnavailable
}
func (nopBus) SendTo(uint64, []byte) error          { return ErrNotFound }
func (nopBus) Forward(uint64, string, []byte) error { return ErrNotFound }

// TestDeliverGaps: in a cluster a topic's offsets have gaps (the stream's
// sequence counts every topic). A client resumes exactly from any offset
// the topic had, and is reset from a position before an entry that was
// dropped, even one that is not the entry's offset less one.
func TestDeliverGaps(t *testing.T) {
	h, sh := historyHub(t, HistoryConfig{Size: 3})
	h.SetBus(nopBus{}, "clus1")
	// Offsets 10, 14, 15, 21 and 30 of topic "g"; 3 kept: 15, 21, 30.
	prev := uint64(0)
	for _, off := range []uint64{10, 14, 15, 21, 30} {
		h.Deliver("g", off, prev, []byte("x"), time.Now())
		prev = off
	}
	h.Deliver("g", 21, 15, []byte("again"), time.Now()) // a repeat is skipped
	cases := []struct {
		name   string
		since  uint64
		reset  bool
		replay []uint64
	}{
		{"at the last", 30, false, nil},
		{"at a kept entry", 21, false, []uint64{30}},
		{"at the entry before the oldest kept", 14, false, []uint64{15, 21, 30}},
		{"between two entries, after the oldest kept's predecessor", 20, false, []uint64{21, 30}},
		{"before a dropped entry", 12, true, nil},
		{"before everything", 0, true, nil},
		{"ahead of this node (another node is further on)", 33, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, tr := openSession(t, sh)
			var st Start
			run(t, sh, func() { st = s.SubscribeFrom("g", &codec.Position{Topic: "g", Epoch: "clus1", Offset: tc.since}) })
			if st.Reset != tc.reset || st.Epoch != "clus1" {
				t.Fatalf("start %+v, want reset %v in epoch clus1", st, tc.reset)
			}
			var got []uint64
			run(t, sh, func() { got = slices.Clone(tr.offsets) })
			if !slices.Equal(got, tc.replay) {
				t.Fatalf("replayed %v, want %v", got, tc.replay)
			}
		})
	}
	// A live delivery reaches the subscribers after their start only.
	s, tr := openSession(t, sh)
	run(t, sh, func() { s.SubscribeFrom("g", &codec.Position{Topic: "g", Epoch: "clus1", Offset: 33}) })
	h.Deliver("g", 33, 30, []byte("x"), time.Now())
	h.Deliver("g", 40, 33, []byte("x"), time.Now())
	var got []uint64
	deadline := time.Now().Add(10 * time.Second) // a hang guard
	for len(got) == 0 && time.Now().Before(deadline) {
		run(t, sh, func() { got = slices.Clone(tr.offsets) }) // after the deliveries posted before
	}
	if !slices.Equal(got, []uint64{40}) {
		t.Fatalf("a client that started at 33 got %v, want [40]", got)
	}
	if n := h.Presence("g"); n != int64(len(cases)+1) {
		t.Fatalf("presence %d, want %d", n, len(cases)+1)
	}
}

// laterBus is a Bus whose PublishAsync keeps the publication's done for
// the test to call, or refuses with err.
type laterBus struct {
	nopBus
	err  error
	done func(uint64, error)
}

func (b *laterBus) PublishAsync(_ string, _ []byte, done func(uint64, error)) error {
	if b.err != nil {
		return b.err
	}
	b.done = done
	return nil
}

// TestPublishThen: on a single node done gets Publish's answer before
// PublishThen returns; with a bus, done gets what the bus says when it
// says it (not before), and a bus that refuses at once is reported at
// once.
func TestPublishThen(t *testing.T) {
	type result struct {
		off uint64
		err error
	}
	var got []result
	record := func(off uint64, err error) { got = append(got, result{off, err}) }

	h, _ := historyHub(t, HistoryConfig{Size: 3})
	h.PublishThen("a", []byte("x"), record)
	h.PublishThen("a", []byte("y"), record)
	if len(got) != 2 || got[0] != (result{1, nil}) || got[1] != (result{2, nil}) {
		t.Fatalf("single node: %v, want offsets 1 and 2 at once", got)
	}

	got = nil
	bus := &laterBus{}
	hb, _ := historyHub(t, HistoryConfig{Size: 3})
	hb.SetBus(bus, "clus1")
	hb.PublishThen("a", []byte("x"), record)
	if len(got) != 0 || bus.done == nil {
		t.Fatalf("cluster: done called before the bus answered (%v), or not handed to it", got)
	}
	bus.done(0, ErrUnavailable)
	if len(got) != 1 || got[0].err != ErrUnavailable {
		t.Fatalf("cluster: %v, want the bus's ErrUnavailable", got)
	}
	bus.err = ErrBacklog
	hb.PublishThen("a", []byte("y"), record)
	if len(got) != 2 || got[1].err != ErrBacklog {
		t.Fatalf("cluster, refused at once: %v, want ErrBacklog at once", got)
	}
}
