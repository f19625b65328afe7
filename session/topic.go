package session

import "github.com/c1mhq/c1m/codec"

// topic is a shard's subscribers of one topic. Subscribers sit in a slice
// for a fast fan-out loop, with each one's position (the last offset it
// was given) in a parallel slice; each session remembers its index there so
// that unsubscribing is O(1) (swap with the last).
type topic struct {
	name string
	subs []*Session
	pos  []uint64  // pos[i]: the last offset subs[i] was given
	hub  *hubTopic // the node-wide entry whose publications it takes
}

// epoch returns the topic's epoch, or "" on a shard without a hub.
func (t *topic) epoch() string {
	if t.hub == nil {
		return ""
	}
	return t.hub.epoch
}

// subscription is a session's membership of one topic on its shard.
type subscription struct {
	t *topic
	i int // index in t.subs
}

// Subscribe adds the session to topic name on its shard, from now on.
// Subscribing twice is a no-op. Loop-only.
func (s *Session) Subscribe(name string) { s.SubscribeFrom(name, nil) }

// SubscribeFrom adds the session to topic name. With since, a position the
// client had (in any topic: only its epoch and offset count), the session
// first gets every publication after it that the topic's history holds,
// then live ones, with no gap and no duplicate; when history does not cover
// the gap, the returned Start says Reset and the session starts from now.
// The transport is told where the subscription starts (Transport.
// Subscribed) before any replayed publication. Subscribing twice returns
// the current position and replays nothing. Loop-only.
func (s *Session) SubscribeFrom(name string, since *codec.Position) Start {
	if s.state == StateClosed {
		return Start{}
	}
	t, i, st, replay := s.subscribeStart(name, since)
	if t == nil {
		return st
	}
	for k := range replay {
		if !s.replay(t, i, &replay[k]) {
			break
		}
	}
	s.subscribeLive(t, i, st)
	return st
}

// subscribeStart adds the session to topic name from since, as
// SubscribeFrom does, and returns the topic, the session's index there,
// where it starts and what it replays, which the caller writes (replay)
// before it goes live (subscribeLive). A topic subscribed already is nil,
// with its current position. Loop-only.
func (s *Session) subscribeStart(name string, since *codec.Position) (*topic, int, Start, []histEntry) {
	if k := s.subscribed(name); k >= 0 {
		sub := s.subs[k]
		return nil, 0, Start{Epoch: sub.t.epoch(), Offset: sub.t.pos[sub.i]}, nil
	}
	sh := s.shard
	t := sh.topics[name]
	var st Start
	var replay []histEntry
	if t == nil {
		t = &topic{name: name}
		sh.topics[name] = t
		t.hub, st, replay = sh.hub.shardWants(sh, name, since)
	} else if t.hub != nil {
		t.hub.mu.Lock()
		st, replay = t.hub.startAt(since)
		t.hub.mu.Unlock()
	}
	i := len(t.subs)
	if t.hub != nil {
		t.hub.nsubs.Add(1)
	}
	s.subs = append(s.subs, subscription{t: t, i: i})
	t.subs = append(t.subs, s)
	// The position moves with the replay, so that a transport that hands
	// out positions (an SSE id) gives each replayed publication its own.
	t.pos = append(t.pos, st.From)
	if name[0] != '$' {
		s.tr.Subscribed(name, st)
	}
	return t, i, st, replay
}

// replay writes one replayed entry of t to the session, subscribed at
// index i, and reports whether the session took it. Loop-only.
func (s *Session) replay(t *topic, i int, e *histEntry) bool {
	t.pos[i] = e.offset
	if s.state != StateOpen || s.tr.WritePublication(e.publication(t.name, t.hub)) != nil {
		return false
	}
	s.shard.stats.Replayed.Add(1)
	return true
}

// subscribeLive ends a subscription's replay: live publications follow.
// Loop-only.
func (s *Session) subscribeLive(t *topic, i int, st Start) {
	// Publications up to st.Offset may still wait in the inbox (posted
	// before this shard was asked): the position makes the fan-out skip
	// them, since the replay or the start point covers them.
	t.pos[i] = st.Offset
	s.shard.markDirty(s)
}

// Unsubscribe removes the session from topic name. Loop-only.
func (s *Session) Unsubscribe(name string) {
	if k := s.subscribed(name); k >= 0 {
		s.unsubscribeAt(k)
	}
}

// Topics returns the names of the session's topics. Loop-only.
func (s *Session) Topics() []string {
	names := make([]string, 0, len(s.subs))
	for _, sub := range s.subs {
		names = append(names, sub.t.name)
	}
	return names
}

// Positions appends the session's position in each of its topics (not the
// internal ones, whose names start with '$') to dst: the epoch and the last
// offset it was given, which is what a client hands back to resume.
// Loop-only.
func (s *Session) Positions(dst []codec.Position) []codec.Position {
	for _, sub := range s.subs {
		if sub.t.name[0] == '$' {
			continue
		}
		dst = append(dst, codec.Position{Topic: sub.t.name, Epoch: sub.t.epoch(), Offset: sub.t.pos[sub.i]})
	}
	return dst
}

// subscribed returns the index in s.subs of topic name, or -1.
func (s *Session) subscribed(name string) int {
	for k, sub := range s.subs {
		if sub.t.name == name {
			return k
		}
	}
	return -1
}

func (s *Session) unsubscribeAt(k int) {
	sub := s.subs[k]
	t := sub.t
	last := len(t.subs) - 1
	if moved := t.subs[last]; sub.i != last {
		t.subs[sub.i] = moved
		t.pos[sub.i] = t.pos[last]
		moved.subs[moved.subscribed(t.name)].i = sub.i
	}
	t.subs[last] = nil
	t.subs, t.pos = t.subs[:last], t.pos[:last]
	s.subs[k] = s.subs[len(s.subs)-1]
	s.subs = s.subs[:len(s.subs)-1]
	if t.hub != nil {
		t.hub.nsubs.Add(-1)
	}
	if len(t.subs) == 0 {
		delete(s.shard.topics, t.name)
		s.shard.hub.shardDropped(s.shard, t.name)
	}
}

// unsubscribeAll leaves every topic; the session is closing.
func (s *Session) unsubscribeAll() {
	for len(s.subs) > 0 {
		s.unsubscribeAt(len(s.subs) - 1)
	}
	s.subs = nil
}

// Subscribers returns the number of sessions subscribed to name on this
// shard. Loop-only.
func (sh *Shard) Subscribers(name string) int {
	if t := sh.topics[name]; t != nil {
		return len(t.subs)
	}
	return 0
}
