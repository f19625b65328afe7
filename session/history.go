package session

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/c1mhq/c1m/codec"
)

// HistoryConfig says which recent publications a Hub keeps, so that a
// client that reconnects can resume from its position. Its zero value keeps
// none.
type HistoryConfig struct {
	// Size is how many of its latest publications each topic keeps. Zero
	// keeps none.
	Size int
	// TTL drops entries older than this; a topic with no subscriber is
	// forgotten (and its numbering restarts, with a new epoch) once its
	// newest entry is older. Zero keeps entries until Size or MaxBytes
	// pushes them out.
	TTL time.Duration
	// MaxBytes caps the memory held by every topic's history together;
	// over it, the oldest entries of the node are dropped first. Zero means
	// DefaultHistoryMaxBytes; negative disables the cap.
	MaxBytes int64
	// Rules override Size and TTL for the topics whose names start with a
	// prefix; the longest matching prefix wins. Topics starting with '$'
	// (internal, such as a user's sessions) never keep history.
	Rules []HistoryRule
}

// HistoryRule is the history of the topics whose names start with Prefix.
type HistoryRule struct {
	Prefix string
	Size   int
	TTL    time.Duration
}

// DefaultHistoryMaxBytes is the default cap on the memory of all history.
const DefaultHistoryMaxBytes = 64 << 20

// historyEntryOverhead is what an entry costs besides its payload: the
// entry in its topic's slice. The payload is shared with the publication
// that was fanned out, so once that is written it is the only copy.
const historyEntryOverhead = int64(unsafe.Sizeof(histEntry{}))

// evictTarget is the share of MaxBytes that an eviction pass frees down to,
// in tenths: going down to 90% rather than just under the cap makes a pass
// (which looks at every topic) happen once per tenth of the cap published,
// not on every publication.
const evictTarget = 9

// histRule is a topic's resolved rule.
type histRule struct {
	size int
	ttl  time.Duration
}

// idleTopicGrace is how long a topic with history but no entry and no
// subscriber keeps its numbering when its rule has no TTL: long enough for
// clients that poll or reconnect, short enough that names nobody uses are
// soon forgotten.
const idleTopicGrace = time.Minute

// keepIdle is how long a topic of this rule with no subscriber and no
// entry keeps its epoch.
func (r histRule) keepIdle() time.Duration {
	if r.ttl > 0 {
		return r.ttl
	}
	return idleTopicGrace
}

// histEntry is one kept publication.
type histEntry struct {
	offset uint64
	// prev is the offset of the topic's publication before this one: on a
	// single node offset-1; in a cluster, whose offsets have gaps, what
	// the bus says (Deliver). A client at a position from prev on is
	// covered by the entries from this one on.
	prev  uint64
	at    int64  // UnixNano of the publication
	order uint64 // its Publication.Order
	data  []byte
	text  bool
}

// cost is what the entry counts against MaxBytes: what it holds, its
// payload's whole allocation included.
func (e *histEntry) cost() int64 { return historyEntryOverhead + int64(cap(e.data)) }

// keptData returns the payload to keep: the publication's own bytes, or a
// copy of them when their allocation is much larger (a body read with
// io.ReadAll sits in a buffer of at least 512 bytes), so that a small
// publication does not keep a large buffer alive for the history's TTL.
func keptData(data []byte) []byte {
	if cap(data) > len(data)+len(data)/4+historySlack {
		return bytes.Clone(data)
	}
	return data
}

// historySlack is the spare capacity a kept payload may carry before it is
// copied to a buffer of its own size.
const historySlack = 32

// SetHistory configures the hub's history. Call it before the hub is used
// (before the server starts); it is not safe while publications flow.
// Call it from one goroutine, before Start.
func (h *Hub) SetHistory(cfg HistoryConfig) {
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultHistoryMaxBytes
	case cfg.MaxBytes < 0:
		cfg.MaxBytes = 0
	}
	cfg.Rules = slices.Clone(cfg.Rules)
	// Longest prefix first, so the first match wins.
	slices.SortStableFunc(cfg.Rules, func(a, b HistoryRule) int { return len(b.Prefix) - len(a.Prefix) })
	h.history = cfg
}

// rule returns the history rule of topic name.
func (h *Hub) rule(name string) histRule {
	if strings.HasPrefix(name, "$") {
		return histRule{}
	}
	for _, r := range h.history.Rules {
		if strings.HasPrefix(name, r.Prefix) {
			return histRule{size: r.Size, ttl: r.TTL}
		}
	}
	return histRule{size: h.history.Size, ttl: h.history.TTL}
}

// newEpoch returns a fresh epoch: 8 base-36 digits, so that two numberings
// of one topic are told apart with a chance of 1 in 2.8e12 of a clash.
func newEpoch() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [8]byte
	n := rand.Uint64()
	for i := range b {
		b[i] = digits[n%36]
		n /= 36
	}
	return string(b[:])
}

// record keeps p, whose predecessor in the topic is prev, in t's history
// and trims it to its rule. Called with t locked.
func (t *hubTopic) record(h *Hub, p *Publication, prev uint64) {
	e := histEntry{offset: p.Offset, prev: prev, at: p.At.UnixNano(), order: p.Order, data: keptData(p.Data), text: p.Text}
	t.hist = append(t.hist, e)
	h.histBytes.Add(e.cost())
	h.histEntries.Add(1)
	if n := len(t.hist) - t.start - t.keep.size; n > 0 {
		t.dropOldest(h, n)
	}
	if t.keep.ttl > 0 {
		t.dropBefore(h, p.At.Add(-t.keep.ttl).UnixNano())
	}
}

// dropOldest drops t's n oldest entries. Called with t locked.
func (t *hubTopic) dropOldest(h *Hub, n int) {
	n = min(n, len(t.hist)-t.start)
	var bytes int64
	for i := t.start; i < t.start+n; i++ {
		bytes += t.hist[i].cost()
		t.droppedOrder = t.hist[i].order
		t.hist[i] = histEntry{}
	}
	t.start += n
	h.histBytes.Add(-bytes)
	h.histEntries.Add(-int64(n))
	// Compact once half the slice is dropped entries: amortised O(1).
	if t.start == len(t.hist) {
		t.hist, t.start = t.hist[:0], 0
	} else if t.start > len(t.hist)/2 {
		k := copy(t.hist, t.hist[t.start:])
		clear(t.hist[k:])
		t.hist, t.start = t.hist[:k], 0
	}
}

// dropBefore drops t's entries published before cutoff (UnixNano). Called
// with t locked.
func (t *hubTopic) dropBefore(h *Hub, cutoff int64) {
	n := 0
	for i := t.start; i < len(t.hist) && t.hist[i].at < cutoff; i++ {
		n++
	}
	if n > 0 {
		t.dropOldest(h, n)
	}
}

// kept returns t's live history entries, oldest first. Called with t
// locked.
func (t *hubTopic) kept() []histEntry { return t.hist[t.start:] }

// startAt decides where a new subscription of t starts, and what it
// replays, for a client at since (nil: a new client, which starts now).
// The replay is every kept entry after since when history covers the gap
// (since in t's epoch, at most t.seq, and no dropped entry after it: the
// oldest kept entry follows since or an earlier offset); otherwise the
// client is reset to now. Called with t locked.
//
// In a cluster a client may come from a node that has seen more of the
// topic than this one (its bus delivery is a moment behind): a position
// ahead of t.seq in t's epoch starts there, and the publications up to it
// that arrive later are skipped for the client, which has them.
func (t *hubTopic) startAt(since *codec.Position) (Start, []histEntry) {
	st := Start{Epoch: t.epoch, Offset: t.seq, From: t.seq}
	if since == nil || (since.Epoch == t.epoch && since.Offset == t.seq) {
		return st, nil
	}
	if since.Epoch == t.epoch && since.Offset > t.seq && t.cluster {
		st.Offset, st.From = since.Offset, since.Offset
		return st, nil
	}
	kept := t.kept()
	if since.Epoch != t.epoch || since.Offset > t.seq || len(kept) == 0 || since.Offset < kept[0].prev {
		st.Reset = true
		return st, nil
	}
	st.From = since.Offset
	i, _ := slices.BinarySearchFunc(kept, since.Offset+1, func(e histEntry, off uint64) int {
		switch {
		case e.offset < off:
			return -1
		case e.offset > off:
			return 1
		}
		return 0
	})
	return st, slices.Clone(kept[i:])
}

// publication rebuilds a kept entry as a publication of topic t, for one
// session's replay.
func (e *histEntry) publication(name string, t *hubTopic) *Publication {
	return &Publication{
		Topic: name, Offset: e.offset, Epoch: t.epoch, Data: e.data, Text: e.text,
		At: time.Unix(0, e.at), Order: e.order, from: t,
	}
}

// Sweep drops history entries past their TTL and forgets the topics that
// have had neither subscribers nor history for their TTL (idleTopicGrace
// without one), then enforces MaxBytes. The
// server calls it on every tick. Safe for concurrent use.
func (h *Hub) Sweep(now time.Time) {
	h.topics.Range(func(k, v any) bool {
		t := v.(*hubTopic)
		t.mu.Lock()
		if t.keep.ttl > 0 {
			t.dropBefore(h, now.Add(-t.keep.ttl).UnixNano())
		}
		if len(t.shards) == 0 && len(t.kept()) == 0 && !t.dead && t.idle < now.Add(-t.keep.keepIdle()).UnixNano() {
			t.dead = true
			h.topics.CompareAndDelete(k, t)
		}
		t.mu.Unlock()
		return true
	})
	h.enforceHistoryCap()
}

// enforceHistoryCap drops the node's oldest history entries, across topics,
// once their total passes MaxBytes, down to evictTarget tenths of it. One
// pass at a time; a publisher that finds one running goes on. Safe for
// concurrent use.
func (h *Hub) enforceHistoryCap() {
	limit := h.history.MaxBytes
	if limit <= 0 || h.histBytes.Load() <= limit || !h.evicting.TryLock() {
		return
	}
	defer h.evicting.Unlock()
	type oldest struct {
		t  *hubTopic
		at int64
	}
	var topics []oldest
	h.topics.Range(func(_, v any) bool {
		t := v.(*hubTopic)
		t.mu.Lock()
		if kept := t.kept(); len(kept) > 0 {
			topics = append(topics, oldest{t, kept[0].at})
		}
		t.mu.Unlock()
		return true
	})
	target := limit / 10 * evictTarget
	// Drop in rounds of the oldest entry of each topic, oldest topics
	// first, until under the target: close to the global age order without
	// holding every topic's lock at once.
	for h.histBytes.Load() > target && len(topics) > 0 {
		slices.SortFunc(topics, func(a, b oldest) int { return cmpInt64(a.at, b.at) })
		next := topics[:0]
		for _, o := range topics {
			if h.histBytes.Load() <= target {
				break
			}
			o.t.mu.Lock()
			o.t.dropOldest(h, 1)
			if kept := o.t.kept(); len(kept) > 0 {
				next = append(next, oldest{o.t, kept[0].at})
			}
			o.t.mu.Unlock()
		}
		topics = next
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// HistoryStats are the figures of a hub's history.
type HistoryStats struct {
	Topics  int   // topics the node numbers (with subscribers or history)
	Entries int64 // publications kept
	Bytes   int64 // what they count against MaxBytes
	Limit   int64 // MaxBytes; 0 for no cap
}

// History returns the hub's history figures. Safe for concurrent use.
func (h *Hub) History() HistoryStats {
	st := HistoryStats{Entries: h.histEntries.Load(), Bytes: h.histBytes.Load(), Limit: h.history.MaxBytes}
	h.topics.Range(func(_, _ any) bool { st.Topics++; return true })
	return st
}
