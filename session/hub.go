package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// Hub publishes across the shards of one server: it numbers each topic's
// publications, knows which shards have subscribers of which topic, and
// hands each publication to those shards' inboxes. It holds the Registry
// of shards (Shards, ByID, Lookup) in an unexported field, so that a type
// defined over Hub (server.Hub, the embedding API) has none of its
// methods.
//
// Order: the offset is assigned and the publication queued on every shard
// under the topic's lock, and each inbox is FIFO, so every subscriber sees
// a topic's publications in offset order, whichever goroutines publish.
type Hub struct {
	shards Registry

	topics sync.Map // string -> *hubTopic

	// guards broadcast order
	bmu sync.Mutex

	history     HistoryConfig // set before use (SetHistory)
	histBytes   atomic.Int64  // what every topic's kept entries count against history.MaxBytes
	histEntries atomic.Int64
	evicting    sync.Mutex // held by the one enforceHistoryCap pass running

	// bus links the hub to the other nodes of a cluster (SetBus); nil on
	// a single node. busEpoch is the cluster's epoch of every topic.
	bus      Bus
	busEpoch atomic.Pointer[string]
	// inbound takes the client messages other nodes forward (SetInbound).
	inbound InboundFunc

	// The node's order of publications (order.go): omu is held while a
	// publication is numbered, recorded and posted to its shards; order
	// is the last Order given.
	omu   sync.Mutex
	order uint64
}

// hubTopic is a topic's node-wide state while some shard has subscribers
// of it or it keeps history. When it has neither, the entry is marked dead
// and removed, so that the node holds nothing for the topic names clients
// once used; its offsets then start again from 1 in a new epoch
// (PROTOCOL.md).
type hubTopic struct {
	epoch   string   // immutable
	keep    histRule // immutable
	cluster bool     // immutable: numbered by the cluster's bus (SetBus), with gaps

	// nsubs counts the node's sessions subscribed to the topic, for
	// presence counts read from any goroutine (Hub.Presence).
	nsubs atomic.Int64

	// guards the fields below
	mu     sync.Mutex
	seq    uint64
	shards []*Shard    // shards with subscribers; replaced, never modified
	dead   bool        // removed from Hub.topics: look the name up again
	hist   []histEntry // hist[start:] are the kept publications, oldest first
	start  int
	idle   int64 // UnixNano when the last subscriber left; 0 while subscribed
	// The Order of the publication at seq, and of the last entry history
	// dropped (order.go).
	lastOrder, droppedOrder uint64
}

// Lookup returns the shard of the loop identified by key, creating it with
// create on first use (see Registry.Lookup) and attaching it to the hub.
// Safe for concurrent use.
func (h *Hub) Lookup(key any, create func(index int) *Shard) *Shard {
	return h.shards.Lookup(key, func(index int) *Shard {
		sh := create(index)
		sh.hub = h
		return sh
	})
}

// Shards returns the hub's shards (see Registry.Shards). The slice must
// not be modified. Safe for concurrent use.
func (h *Hub) Shards() []*Shard { return h.shards.Shards() }

// ByID returns the shard that owns session id, or nil (see
// Registry.ByID). Safe for concurrent use.
func (h *Hub) ByID(id uint64) *Shard { return h.shards.ByID(id) }

// lockTopic returns topic name's live entry, locked, or nil when no shard
// subscribes to it and create is false.
func (h *Hub) lockTopic(name string, create bool) *hubTopic {
	for {
		v, ok := h.topics.Load(name)
		if !ok {
			if !create {
				return nil
			}
			v, _ = h.topics.LoadOrStore(name, h.newTopic(name))
		}
		t := v.(*hubTopic)
		t.mu.Lock()
		if !t.dead {
			return t
		}
		t.mu.Unlock() // removed meanwhile; a new entry may exist
	}
}

// Publish publishes data to topic name and returns its offset. A topic
// that keeps history is numbered and kept whether or not anyone
// subscribes; one that does not, and that no session on the node
// subscribes to, reaches nobody and is not numbered: its offset is 0. When
// a shard with subscribers has Config.MaxBacklog of publications waiting,
// Publish returns ErrBacklog and publishes nothing. data is kept and
// shared: the caller must not modify it afterwards. When a shard refuses
// the publication (it is stopping), the other shards still get it and the
// first error is returned. Safe for concurrent use.
//
// With a bus (SetBus), the cluster numbers the publication and every node,
// this one included, delivers it when it comes back from the bus (Deliver):
// Publish waits for the bus's answer and returns the cluster's offset, or
// ErrUnavailable when the bus cannot take it. On an event loop, which must
// not wait, it hands the publication to the bus and returns offset 0.
func (h *Hub) Publish(name string, data []byte) (uint64, error) {
	if h.bus != nil {
		return h.publishBus(name, data)
	}
	off, err := h.publish(name, data)
	h.enforceHistoryCap()
	return off, err
}

func (h *Hub) publish(name string, data []byte) (uint64, error) {
	h.omu.Lock()
	defer h.omu.Unlock()
	t := h.lockTopic(name, h.rule(name).size > 0)
	if t == nil {
		return 0, nil
	}
	defer t.mu.Unlock()
	cost := publicationCost(len(data))
	if anyBacklogFull(t.shards, cost) {
		return 0, ErrBacklog
	}
	t.seq++
	h.order++
	p := NewPublication(name, t.seq, data)
	p.Epoch, p.from, p.Order = t.epoch, t, h.order
	t.lastOrder = p.Order
	if t.keep.size > 0 {
		t.record(h, p, p.Offset-1)
	}
	var first error
	for _, sh := range t.shards {
		if err := sh.postDelivery(p, cost); err != nil && first == nil {
			first = err
		}
	}
	return p.Offset, first
}

// Position returns the epoch and offset of the last publication to topic
// name; a topic the node does not number (no subscriber, no history) has
// none: "", 0. Safe for concurrent use.
func (h *Hub) Position(name string) (epoch string, offset uint64) {
	if t := h.lockTopic(name, false); t != nil {
		defer t.mu.Unlock()
		return t.epoch, t.seq
	}
	return "", 0
}

// Broadcast sends data to every open session of every shard. When a shard
// refuses it (it is stopping), the others still get it and the first error
// is returned. Safe for concurrent use.
func (h *Hub) Broadcast(data []byte) error {
	if h.bus != nil {
		_, err := h.publishBus("", data)
		return err
	}
	return h.broadcast(data)
}

// broadcast fans a broadcast out to the node's shards.
func (h *Hub) broadcast(data []byte) error {
	h.bmu.Lock()
	defer h.bmu.Unlock()
	shards, cost := h.Shards(), publicationCost(len(data))
	if anyBacklogFull(shards, cost) {
		return ErrBacklog
	}
	p := NewPublication("", 0, data)
	var first error
	for _, sh := range shards {
		if err := sh.postDelivery(p, cost); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SendTo sends data to the session with id, wherever it lives, and returns
// ErrNotFound when that session has ended (or never was), ErrClosed when it
// is closing, and the transport's refusal under its slow-client policy.
// data is kept and shared: the caller must not modify it afterwards. Safe
// for concurrent use.
//
// The session's table belongs to its loop, so the answer comes from there:
// on that loop SendTo writes at once; from any other goroutine (a worker,
// an API handler) it posts the message and waits for the loop to run it,
// about one round of the loop, or until the shard stops (ErrClosed). The
// one exception is the loop of another shard, which must never wait for a
// loop (two loops sending to each other would wait forever): there SendTo
// posts and returns nil, and a session found gone drops the message.
func (h *Hub) SendTo(id uint64, data []byte) error {
	return h.sendTo(id, data, true)
}

// SendToLocal is SendTo for the sessions of this node only: a bus calls it
// for a send from another node. Safe for concurrent use.
func (h *Hub) SendToLocal(id uint64, data []byte) error {
	return h.sendTo(id, data, false)
}

// sendTo is SendTo, trying the bus (SetBus) for a session not found on
// this node when elsewhere is set.
func (h *Hub) sendTo(id uint64, data []byte, elsewhere bool) error {
	forward := func(err error) error {
		if !elsewhere {
			return err
		}
		return h.sendElsewhere(id, data, err)
	}
	sh := h.ByID(id)
	if sh == nil {
		return forward(ErrNotFound)
	}
	cost := publicationCost(len(data))
	if sh.backlogFull(cost) {
		return ErrBacklog
	}
	p := NewPublication("", 0, data)
	send := func() error { return sh.sendTo(id, p, cost) }
	switch {
	case sh.OnLoop():
		sh.backlog.Add(cost)
		return forward(send())
	case h.onAnyLoop():
		return sh.postCounted(cost, func() {
			if err := send(); err == ErrNotFound && elsewhere && h.bus != nil {
				go func() { _ = h.bus.SendTo(id, data) }() // a loop never waits for the bus
			}
		})
	}
	return forward(sh.postWait(cost, send))
}

// userTopic is the internal topic of a user's sessions; '$' keeps clients
// from naming it.
func userTopic(user string) string { return "$user:" + user }

// SendToUser sends data to every session of user (see Session.SetUser).
// Safe for concurrent use.
func (h *Hub) SendToUser(user string, data []byte) error {
	_, err := h.Publish(userTopic(user), data)
	return err
}

// shardWants records that sh has a first subscriber of topic name and
// returns the topic's node-wide entry (nil without a hub), with where the
// subscriber starts and what it replays for a client at since (see
// hubTopic.startAt). Called on sh's loop.
func (h *Hub) shardWants(sh *Shard, name string, since *codec.Position) (*hubTopic, Start, []histEntry) {
	if h == nil {
		return nil, Start{}, nil
	}
	t := h.lockTopic(name, true)
	t.shards = append(t.shards[:len(t.shards):len(t.shards)], sh)
	t.idle = 0
	st, replay := t.startAt(since)
	t.mu.Unlock()
	return t, st, replay
}

// shardDropped records that sh has no subscriber of topic name left.
func (h *Hub) shardDropped(sh *Shard, name string) {
	if h == nil {
		return
	}
	t := h.lockTopic(name, false)
	if t == nil {
		return
	}
	defer t.mu.Unlock()
	next := make([]*Shard, 0, len(t.shards))
	for _, x := range t.shards {
		if x != sh {
			next = append(next, x)
		}
	}
	t.shards = next
	if len(next) == 0 && t.keep.size > 0 {
		// A topic with history keeps its numbering for a while even
		// without entries, so that a client that comes back (the next
		// long-poll, a reconnect) finds its epoch (Sweep).
		t.idle = time.Now().UnixNano()
		return
	}
	if len(next) == 0 {
		t.dead = true
		h.topics.CompareAndDelete(name, t)
	}
}

// Counters summed over every shard, for metrics and the stats API.
type Totals struct {
	Connections, Sessions    int64
	MessagesIn, MessagesOut  uint64
	BytesIn, BytesOut        uint64
	Deliveries, Publications uint64
	Replayed                 uint64
	Dropped                  uint64
	Evictions                map[string]uint64
}

// Totals sums the shards' counters. Safe for concurrent use.
func (h *Hub) Totals() Totals {
	tot := Totals{Evictions: map[string]uint64{}}
	for _, sh := range h.Shards() {
		st := sh.Stats()
		tot.Connections += st.Connections.Load()
		tot.Sessions += st.Sessions.Load()
		tot.MessagesIn += st.MessagesIn.Load()
		tot.MessagesOut += st.MessagesOut.Load()
		tot.BytesIn += st.BytesIn.Load()
		tot.BytesOut += st.BytesOut.Load()
		tot.Deliveries += st.Deliveries.Load()
		tot.Publications += st.Publications.Load()
		tot.Replayed += st.Replayed.Load()
		tot.Dropped += st.Dropped.Load()
		for _, r := range Reasons() {
			tot.Evictions[r.String()] += st.Evictions(r)
		}
	}
	return tot
}
