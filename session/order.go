package session

import (
	"slices"

	"github.com/c1mhq/c1m/codec"
)

// The node's order of publications. Each publication gets an Order, a
// number that grows across all the node's topics: on a single node the
// hub counts it; in a cluster it is the offset itself, which comes from
// the cluster's one sequence across topics (Deliver, in that sequence).
// The hub numbers, records and posts a publication to its shards under
// one lock (Hub.omu), so that every shard's inbox, and so every session,
// gets publications in Order: a client that had the publication of Order
// X had every publication of its topics before X and none after. That
// makes one position, the Order of the last publication a client got,
// exact for all its topics at once (SubscribeOrdered), where a topic's
// own offset says nothing about the others'. Socket.IO's connection state
// recovery hands back only the last offset a client saw: it is that. An
// Order means something only on the node that gave it (in a cluster, the
// cluster's), and only while the process runs: a single node's restart
// starts again from 1, with every topic in a new epoch.
//
// The cost: one mutex for every publication of the node, held for the
// numbering, the history record and the posts to the shards, so that
// publishers of different topics wait for each other there
// (BenchmarkPublishHistory); 8 bytes a publication and a history entry,
// and 16 bytes a topic.

// Order returns the Order of the node's last publication: a session that
// subscribes to a topic from now gets only publications after it. Safe
// for concurrent use.
func (h *Hub) Order() uint64 {
	h.omu.Lock()
	defer h.omu.Unlock()
	return h.order
}

// positionAt returns the offset of t's last publication whose Order is at
// most at, and whether t knows it: a kept entry says, and so does the
// order of the last entry history dropped or of the last publication.
// Called with t locked.
func (t *hubTopic) positionAt(at uint64) (uint64, bool) {
	kept := t.kept()
	i, _ := slices.BinarySearchFunc(kept, at+1, func(e histEntry, o uint64) int {
		switch {
		case e.order < o:
			return -1
		case e.order > o:
			return 1
		}
		return 0
	})
	switch {
	case i > 0:
		return kept[i-1].offset, true
	case len(kept) > 0 && (kept[0].prev == 0 || (t.droppedOrder != 0 && t.droppedOrder <= at)):
		return kept[0].prev, true
	case len(kept) > 0:
		return 0, false
	case t.seq == 0 || t.lastOrder <= at:
		return t.seq, true
	}
	return 0, false
}

// SubscribeOrdered subscribes the session to topics (each not subscribed
// yet) for a client that had, of each, every publication up to the node's
// Order at and none after, but at most up to given[i] (the position the
// session had been given: publications after it never reached the
// client). It replays what the client missed of them all, in Order, then
// live publications follow, with no gap and no duplicate. A topic whose
// position at that Order history no longer knows, or whose epoch is not
// given[i]'s, starts from now with Reset, as SubscribeFrom's. It returns
// each topic's Start. Loop-only.
func (s *Session) SubscribeOrdered(topics []string, given []codec.Position, at uint64) []Start {
	starts := make([]Start, len(topics))
	if s.state == StateClosed {
		return starts
	}
	type sub struct {
		t      *topic
		i      int
		replay []histEntry
	}
	subs := make([]sub, len(topics))
	h := s.shard.hub
	if h != nil {
		// No publication is numbered meanwhile: the replays end at one
		// Order for every topic, and what follows comes live, in Order.
		h.omu.Lock()
	}
	for k, name := range topics {
		since := given[k]
		if h != nil && since.Epoch != "" {
			if ht := h.lockTopic(name, false); ht != nil {
				off, known := ht.positionAt(at)
				switch {
				case ht.epoch != since.Epoch:
				case !known:
					since.Epoch = "" // history no longer says: from now
				case off < since.Offset:
					since.Offset = off
				}
				ht.mu.Unlock()
			}
		}
		var from *codec.Position
		if since.Epoch != "" {
			from = &since
		}
		t, i, st, replay := s.subscribeStart(name, from)
		if from == nil {
			st.Reset = true
		}
		starts[k], subs[k] = st, sub{t: t, i: i, replay: replay}
	}
	if h != nil {
		h.omu.Unlock()
	}
	// The replays, merged in Order.
	type entry struct {
		k int
		e *histEntry
	}
	var all []entry
	for k := range subs {
		for j := range subs[k].replay {
			all = append(all, entry{k, &subs[k].replay[j]})
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int {
		switch {
		case a.e.order < b.e.order:
			return -1
		case a.e.order > b.e.order:
			return 1
		}
		return 0
	})
	for _, x := range all {
		if sb := subs[x.k]; sb.t != nil && !s.replay(sb.t, sb.i, x.e) {
			break
		}
	}
	for k, sb := range subs {
		if sb.t != nil {
			s.subscribeLive(sb.t, sb.i, starts[k])
		}
	}
	return starts
}
