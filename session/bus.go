package session

import (
	"time"
)

// Bus links a Hub to the other nodes of a cluster; package broker
// implements it over NATS. The cluster numbers every topic's publications
// (one order per topic, the same offsets on every node) and hands each one
// to every node, the publishing one included, which delivers it to its own
// subscribers through Hub.Deliver. A single node has no bus, and the hub
// then costs one nil check per publication for it.
//
// Every method is Safe for concurrent use.
type Bus interface {
	// Publish publishes data to topic ("" for a broadcast) across the
	// cluster and returns the offset the cluster gave it, once the bus
	// holds it. It waits for a round trip to the bus; an error (wrapping
	// ErrUnavailable when the bus is unreachable) means the publication
	// may not reach the cluster.
	Publish(topic string, data []byte) (uint64, error)
	// PublishAsync is Publish without waiting for the bus's answer, for
	// callers on an event loop, which must never wait. It keeps data.
	// When it returns nil and done is not nil, done is called once, on
	// another goroutine, with what Publish would have returned: the
	// offset once the cluster holds the publication, or why it may not
	// reach the cluster. When it returns an error, done is not called.
	PublishAsync(topic string, data []byte, done func(offset uint64, err error)) error
	// SendTo sends data to session id on whichever other node holds it, or
	// returns ErrNotFound.
	SendTo(id uint64, data []byte) error
	// Forward hands a client's message that reached this node for session
	// id (sid, as the client named it) to whichever other node holds that
	// session, which gives it to its Inbound function (Hub.SetInbound) as
	// if the client had sent it there. It returns nil once that node took
	// it, ErrNotFound when no node has the session, ErrClosed when the
	// node that has it refused it (sid's secret does not match, the
	// session is closing), or an error wrapping ErrUnavailable when the
	// bus is unreachable. It waits for a round trip to the bus.
	Forward(id uint64, sid string, data []byte) error
}

// InboundFunc takes a client's message for the session sid names, which
// reached another node, and calls answer once, on any goroutine: nil when
// the session took it, ErrNotFound when no session of this node has
// sid's id, another error when it has one that refused it. It must not
// wait.
type InboundFunc func(sid string, data []byte, answer func(error))

// SetInbound sets the function that takes the messages other nodes
// forward to this node's sessions (Bus.Forward). The server sets it when
// it is made, before any bus links the hub. Call it from one goroutine
// before the hub is used.
func (h *Hub) SetInbound(fn InboundFunc) { h.inbound = fn }

// Inbound hands a message another node forwarded to the session sid
// names (see InboundFunc); without an inbound function it answers
// ErrNotFound. Safe for concurrent use.
func (h *Hub) Inbound(sid string, data []byte, answer func(error)) {
	if h.inbound == nil {
		answer(ErrNotFound)
		return
	}
	h.inbound(sid, data, answer)
}

// SetBus links the hub to a cluster: from now on Publish, Broadcast and
// SendToUser go through b, and every topic is numbered in epoch, the
// cluster's. Call it before the hub is used (before the server starts),
// from one goroutine.
func (h *Hub) SetBus(b Bus, epoch string) {
	h.bus = b
	h.SetEpoch(epoch)
}

// SetEpoch changes the epoch of the topics the hub numbers from now on,
// when the bus learns the cluster's after SetBus (a node started before
// it could reach the bus). Topics numbered already keep theirs: a client
// at a position in it is reset, never misled. Safe for concurrent use.
func (h *Hub) SetEpoch(epoch string) {
	h.busEpoch.Store(&epoch)
}

// Bus returns the hub's bus, nil on a single node. Safe for concurrent use.
func (h *Hub) Bus() Bus { return h.bus }

// BusEpoch returns the epoch the hub numbers new topics in on a cluster
// (SetBus, SetEpoch), "" on a single node. Safe for concurrent use.
func (h *Hub) BusEpoch() string {
	if p := h.busEpoch.Load(); h.bus != nil && p != nil {
		return *p
	}
	return ""
}

// newTopic returns a new node-wide entry for topic name.
func (h *Hub) newTopic(name string) *hubTopic {
	if h.bus != nil {
		return &hubTopic{epoch: *h.busEpoch.Load(), keep: h.rule(name), cluster: true}
	}
	return &hubTopic{epoch: newEpoch(), keep: h.rule(name)}
}

// publishBus hands a publication to the bus. The node's own backlog is
// checked first, as for a local publication, so that a publisher faster
// than the loops is told ErrBacklog before the cluster numbers anything.
func (h *Hub) publishBus(name string, data []byte) (uint64, error) {
	if h.busBacklogFull(name, len(data)) {
		return 0, ErrBacklog
	}
	if h.onAnyLoop() {
		return 0, h.bus.PublishAsync(name, data, nil)
	}
	return h.bus.Publish(name, data)
}

// busBacklogFull reports whether a shard with subscribers of topic name
// ("" for a broadcast: any shard) has its backlog too full for a
// publication of size bytes.
func (h *Hub) busBacklogFull(name string, size int) bool {
	cost := publicationCost(size)
	if name == "" {
		return anyBacklogFull(h.Shards(), cost)
	}
	t := h.lockTopic(name, false)
	if t == nil {
		return false
	}
	defer t.mu.Unlock()
	return anyBacklogFull(t.shards, cost)
}

// PublishThen is Publish for a caller that must not wait but must learn
// the outcome, such as a client's publish command on an event loop: done
// gets Publish's results, once. On a single node, or when the
// publication is refused before the bus takes it, done runs before
// PublishThen returns, on the caller's goroutine; otherwise it runs on
// another goroutine once the cluster holds the publication (its history
// included) or could not take it, so that a client is told of a
// publication lost in a NATS restart rather than left believing it went
// out. data is kept: the caller must not modify it afterwards. Safe for
// concurrent use.
func (h *Hub) PublishThen(name string, data []byte, done func(offset uint64, err error)) {
	if h.bus == nil {
		done(h.Publish(name, data))
		return
	}
	if h.busBacklogFull(name, len(data)) {
		done(0, ErrBacklog)
		return
	}
	if err := h.bus.PublishAsync(name, data, done); err != nil {
		done(0, err)
	}
}

// sendElsewhere tries the bus for a session that is not on this node
// (local is what the node's own attempt said).
func (h *Hub) sendElsewhere(id uint64, data []byte, local error) error {
	if local != ErrNotFound || h.bus == nil {
		return local
	}
	return h.bus.SendTo(id, data)
}

// Deliver delivers a publication that came from the bus to the node's
// subscribers: data published to topic ("" for a broadcast) at offset, the
// topic's previous publication being at prev (0 for none), at time at.
// The bus calls it from one goroutine, in the cluster's order; a
// publication at or before the topic's last offset on this node was
// delivered already and is skipped, so a bus that repeats itself after a
// reconnect delivers nothing twice. A topic that keeps history records
// it, subscribers or not, so that a client may resume on this node from a
// position it had on another. data is kept: the caller must not modify
// it. Safe for concurrent use, but publications of one topic must come
// from one goroutine in order.
//
// A delivery is never refused for backlog (the cluster has it already):
// publishers are held back where they publish (Publish's ErrBacklog).
func (h *Hub) Deliver(topic string, offset, prev uint64, data []byte, at time.Time) {
	if topic == "" {
		_ = h.broadcast(data)
		return
	}
	h.omu.Lock()
	defer h.omu.Unlock()
	t := h.lockTopic(topic, h.rule(topic).size > 0)
	if t == nil {
		return
	}
	defer h.enforceHistoryCap()
	defer t.mu.Unlock()
	if offset <= t.seq {
		return
	}
	t.seq = offset
	p := NewPublication(topic, offset, data)
	// The cluster's offsets come from one sequence across topics: they
	// are the node's order too.
	p.Epoch, p.from, p.At, p.Order = t.epoch, t, at, offset
	t.lastOrder = offset
	h.order = max(h.order, offset)
	if t.keep.size > 0 {
		t.record(h, p, prev)
	}
	cost := publicationCost(len(data))
	for _, sh := range t.shards {
		_ = sh.postDelivery(p, cost) // a stopping shard has no one to deliver to
	}
}

// Presence returns how many of the node's sessions subscribe to topic
// name. Safe for concurrent use.
func (h *Hub) Presence(name string) int64 {
	if v, ok := h.topics.Load(name); ok {
		return v.(*hubTopic).nsubs.Load()
	}
	return 0
}
