package session

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// offsetTransport records the offsets of the publications it is given and
// the starts it is told; it is written on the loop and read by the test
// through run.
type offsetTransport struct {
	fakeTransport
	offsets []uint64
	epochs  []string
}

func (o *offsetTransport) WritePublication(p *Publication) error {
	o.offsets = append(o.offsets, p.Offset)
	o.epochs = append(o.epochs, p.Epoch)
	return nil
}

// historyHub returns a hub with history cfg and one shard on a goroutine
// standing in for its loop.
func historyHub(t *testing.T, cfg HistoryConfig) (*Hub, *Shard) {
	h := &Hub{}
	h.SetHistory(cfg)
	sh := h.Lookup("loop", func(i int) *Shard { return NewShard(i, "loop", newGoExec(t), Config{}) })
	return h, sh
}

// openSession opens a session with an offsetTransport on sh.
func openSession(t *testing.T, sh *Shard) (*Session, *offsetTransport) {
	s, tr := &Session{}, &offsetTransport{}
	run(t, sh, func() { sh.Open(s, tr); s.MarkOpen() })
	return s, tr
}

func publishN(t *testing.T, h *Hub, topic string, n int) (last uint64) {
	t.Helper()
	for range n {
		off, err := h.Publish(topic, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		last = off
	}
	return last
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// TestHistoryResume: a topic with history is numbered with no subscriber;
// a client that hands back its position gets exactly what it missed, and
// one whose position history no longer covers, or in another epoch, gets a
// reset to the current offset and nothing replayed.
func TestHistoryResume(t *testing.T) {
	t.Parallel()
	h, sh := historyHub(t, HistoryConfig{Size: 100})
	last := publishN(t, h, "news", 150) // 1..50 dropped, 51..150 kept
	epoch, off := h.Position("news")
	if last != 150 || off != 150 || !codec.ValidEpoch(epoch) {
		t.Fatalf("position %q %d after 150 publications (last %d)", epoch, off, last)
	}
	cases := []struct {
		name   string
		since  *codec.Position
		reset  bool
		replay []uint64
	}{
		{"new client", nil, false, nil},
		{"covered", &codec.Position{Epoch: epoch, Offset: 50}, false, seq(51, 150)},
		{"mid history", &codec.Position{Epoch: epoch, Offset: 140}, false, seq(141, 150)},
		{"up to date", &codec.Position{Epoch: epoch, Offset: 150}, false, nil},
		{"dropped", &codec.Position{Epoch: epoch, Offset: 49}, true, nil},
		{"other epoch", &codec.Position{Epoch: "zzzzzzzz", Offset: 140}, true, nil},
		{"beyond the topic", &codec.Position{Epoch: epoch, Offset: 151}, true, nil},
	}
	for _, tc := range cases {
		s, tr := openSession(t, sh)
		var st Start
		run(t, sh, func() { st = s.SubscribeFrom("news", tc.since) })
		if st.Epoch != epoch || st.Offset != 150 || st.Reset != tc.reset {
			t.Errorf("%s: start %+v, want epoch %q offset 150 reset %v", tc.name, st, epoch, tc.reset)
		}
		if fmt.Sprint(tr.offsets) != fmt.Sprint(tc.replay) {
			t.Errorf("%s: replayed %v, want %v", tc.name, tr.offsets, tc.replay)
		}
		if len(tr.starts) != 1 || tr.starts[0] != st {
			t.Errorf("%s: transport told %+v, want one start %+v", tc.name, tr.starts, st)
		}
	}
}

// TestResumeWhilePublishing: publications keep coming from another
// goroutine while sessions subscribe from positions, on a shard whose
// inbox already holds publications for an earlier subscriber; each session
// gets every offset after its position exactly once, in order.
func TestResumeWhilePublishing(t *testing.T) {
	t.Parallel()
	const most = 1 << 20 // a bound; the test stops the publisher long before
	h := &Hub{}
	h.SetHistory(HistoryConfig{Size: most})
	// A small backlog keeps the inbox short (the publisher yields on
	// ErrBacklog), so that the resumers' tasks are not stuck behind it.
	sh := h.Lookup("loop", func(i int) *Shard { return NewShard(i, "loop", newGoExec(t), Config{MaxBacklog: 32 << 10}) })
	first, _ := openSession(t, sh)
	run(t, sh, func() { first.Subscribe("t") })
	stop := make(chan struct{})
	published := make(chan uint64, 1)
	go func() {
		var last uint64
		defer func() { published <- last }()
		for last < most {
			select {
			case <-stop:
				return
			default:
			}
			off, err := h.Publish("t", []byte("x"))
			switch {
			case errors.Is(err, ErrBacklog):
				runtime.Gosched() // the loop is behind: let it catch up
				continue
			case err != nil:
				t.Error(err)
				return
			}
			last = off
		}
	}()
	type resumer struct {
		tr    *offsetTransport
		since uint64
	}
	var rs []resumer
	var prev uint64
	for len(rs) < 20 {
		// Each resumer comes while publications flow: some after the
		// previous one.
		epoch, off := h.Position("t")
		if off < prev+500 {
			if len(published) > 0 {
				t.Fatalf("the publisher stopped at %d before 20 resumers came", off)
			}
			runtime.Gosched()
			continue
		}
		prev = off
		s, tr := openSession(t, sh)
		since := off - 200
		run(t, sh, func() { s.SubscribeFrom("t", &codec.Position{Epoch: epoch, Offset: since}) })
		rs = append(rs, resumer{tr, since})
	}
	close(stop)
	total := <-published
	run(t, sh, func() {}) // every delivery posted before is done
	for i, r := range rs {
		var got []uint64
		run(t, sh, func() { got = append(got, r.tr.offsets...) })
		if want := seq(r.since+1, total); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("resumer %d from %d: got %d offsets (%v...), want %d..%d once each", i, r.since, len(got), got[:min(5, len(got))], r.since+1, total)
		}
	}
}

// TestHistoryKeepsNumbering: a topic with history keeps its epoch and
// offsets while nobody subscribes, until its newest entry is older than the
// TTL; then it is forgotten and the next numbering has a new epoch.
func TestHistoryKeepsNumbering(t *testing.T) {
	t.Parallel()
	h, sh := historyHub(t, HistoryConfig{Size: 10, TTL: time.Minute})
	s, _ := openSession(t, sh)
	run(t, sh, func() { s.Subscribe("t") })
	publishN(t, h, "t", 3)
	run(t, sh, func() { s.Unsubscribe("t") })
	epoch, off := h.Position("t")
	h.Sweep(time.Now())
	if e, o := h.Position("t"); e != epoch || o != 3 || off != 3 {
		t.Fatalf("after the last subscriber left: %q %d, want %q 3", e, o, epoch)
	}
	if st := h.History(); st.Entries != 3 || st.Topics != 1 {
		t.Fatalf("history %+v, want 3 entries of 1 topic", st)
	}
	h.Sweep(time.Now().Add(2 * time.Minute))
	if e, o := h.Position("t"); e != "" || o != 0 {
		t.Fatalf("after the TTL: %q %d, want the topic forgotten", e, o)
	}
	if st := h.History(); st.Entries != 0 || st.Bytes != 0 || st.Topics != 0 {
		t.Fatalf("history %+v after the TTL, want empty", st)
	}
	if off := publishN(t, h, "t", 1); off != 1 {
		t.Fatalf("first offset of the new numbering: %d", off)
	}
	if e, _ := h.Position("t"); e == epoch {
		t.Fatalf("new numbering kept epoch %q", e)
	}
}

// TestHistoryMemoryCap: publications to many topics past MaxBytes drop the
// oldest entries of the node first, and the total stays under the cap.
func TestHistoryMemoryCap(t *testing.T) {
	t.Parallel()
	payload := make([]byte, 1000)
	perEntry := historyEntryOverhead + int64(len(payload))
	limit := 100 * perEntry
	h, _ := historyHub(t, HistoryConfig{Size: 1000, MaxBytes: limit})
	for i := range 50 {
		if _, err := h.Publish(fmt.Sprintf("old%d", i), payload); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 500 {
		if _, err := h.Publish("hot", payload); err != nil {
			t.Fatal(err)
		}
		if b := h.History().Bytes; b > limit {
			t.Fatalf("after %d publications: %d bytes kept, cap %d", i, b, limit)
		}
	}
	h.Sweep(time.Now())
	for i := range 50 {
		if _, off := h.Position(fmt.Sprintf("old%d", i)); off != 0 {
			t.Fatalf("topic old%d (the oldest entries) still numbered after the cap evicted it", i)
		}
	}
	if st := h.History(); st.Entries < 80 || st.Bytes > limit {
		t.Fatalf("history %+v: want at least 80 of the newest entries kept, at most %d bytes", st, limit)
	}
}

// TestHistoryRules: the longest matching prefix decides; '$' topics keep
// nothing.
func TestHistoryRules(t *testing.T) {
	t.Parallel()
	h, _ := historyHub(t, HistoryConfig{Size: 5, Rules: []HistoryRule{
		{Prefix: "chat:", Size: 2},
		{Prefix: "chat:vip:", Size: 8},
		{Prefix: "tmp:", Size: 0},
	}})
	for _, tc := range []struct {
		topic string
		kept  int64
	}{{"news", 5}, {"chat:a", 2}, {"chat:vip:b", 8}, {"tmp:x", 0}, {"$user:u", 0}} {
		before := h.History().Entries
		publishN(t, h, tc.topic, 10)
		if got := h.History().Entries - before; got != tc.kept {
			t.Errorf("%s: %d entries kept, want %d", tc.topic, got, tc.kept)
		}
	}
}

// TestResumeSkipsQueuedPublications: publications queued in the inbox
// behind a resuming subscribe are already in its replay (the subscribe
// reads the topic when it runs); the fan-out skips them for that session
// instead of sending them twice.
func TestResumeSkipsQueuedPublications(t *testing.T) {
	t.Parallel()
	ex := &stepExec{}
	h := &Hub{}
	h.SetHistory(HistoryConfig{Size: 100})
	sh := h.Lookup("loop", func(i int) *Shard { return NewShard(i, "loop", ex, Config{}) })
	s, tr := &Session{}, &offsetTransport{}
	stay := &Session{}
	if err := sh.Post(func() {
		sh.Open(s, tr)
		s.MarkOpen()
		sh.Open(stay, &offsetTransport{})
		stay.MarkOpen()
		stay.Subscribe("t") // the shard takes "t" before the publications
	}); err != nil {
		t.Fatal(err)
	}
	ex.next(time.Second)
	epoch, _ := h.Position("t")
	if err := sh.Post(func() { s.SubscribeFrom("t", &codec.Position{Epoch: epoch, Offset: 0}) }); err != nil {
		t.Fatal(err)
	}
	publishN(t, h, "t", 10) // queued behind the subscribe, in the same drain
	for ex.next(10 * time.Millisecond) {
	}
	if want := seq(1, 10); fmt.Sprint(tr.offsets) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v once each", tr.offsets, want)
	}
}

// TestHistoryTopicOutlivesItsSubscriber: a topic with history but nothing
// published yet keeps its epoch when its only subscriber leaves (a
// long-poll ending), so that the client coming back resumes instead of
// being reset; it is forgotten once idle for its TTL.
func TestHistoryTopicOutlivesItsSubscriber(t *testing.T) {
	t.Parallel()
	h, sh := historyHub(t, HistoryConfig{Size: 10, TTL: time.Minute})
	s, _ := openSession(t, sh)
	var st Start
	run(t, sh, func() { st = s.SubscribeFrom("t", nil) })
	run(t, sh, func() { s.Unsubscribe("t") })
	h.Sweep(time.Now())
	again, _ := openSession(t, sh)
	var back Start
	run(t, sh, func() { back = again.SubscribeFrom("t", &codec.Position{Epoch: st.Epoch, Offset: st.Offset}) })
	if back.Reset || back.Epoch != st.Epoch {
		t.Fatalf("came back to %+v, want epoch %q kept", back, st.Epoch)
	}
	run(t, sh, func() { again.Unsubscribe("t") })
	h.Sweep(time.Now().Add(2 * time.Minute))
	if e, _ := h.Position("t"); e != "" {
		t.Fatalf("idle topic still numbered (%q) past its TTL", e)
	}
}

// TestHistoryKeepsSmallCopies: a small payload in a large buffer (a body
// read with io.ReadAll) is kept as a copy of its own size, and history
// counts what it really holds.
func TestHistoryKeepsSmallCopies(t *testing.T) {
	t.Parallel()
	h, _ := historyHub(t, HistoryConfig{Size: 10})
	buf := make([]byte, 64, 512)
	if _, err := h.Publish("t", buf); err != nil {
		t.Fatal(err)
	}
	if st := h.History(); st.Bytes > historyEntryOverhead+128 {
		t.Fatalf("one 64-byte entry counts %d bytes: the 512-byte buffer is kept", st.Bytes)
	}
}
