package session

// topic is a shard's subscribers of one topic. Subscribers sit in a slice
// for a fast fan-out loop; each session remembers its index there so that
// unsubscribing is O(1) (swap with the last).
type topic struct {
	name string
	subs []*Session
	hub  *hubTopic // the node-wide entry whose publications it takes
}

// subscription is a session's membership of one topic on its shard.
type subscription struct {
	t *topic
	i int // index in t.subs
}

// Subscribe adds the session to topic name on its shard. Subscribing twice
// is a no-op. Loop-only.
func (s *Session) Subscribe(name string) {
	if s.state == StateClosed || s.subscribed(name) >= 0 {
		return
	}
	sh := s.shard
	t := sh.topics[name]
	if t == nil {
		t = &topic{name: name}
		sh.topics[name] = t
		t.hub = sh.hub.shardWants(sh, name)
	}
	s.subs = append(s.subs, subscription{t: t, i: len(t.subs)})
	t.subs = append(t.subs, s)
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
		moved.subs[moved.subscribed(t.name)].i = sub.i
	}
	t.subs[last] = nil
	t.subs = t.subs[:last]
	s.subs[k] = s.subs[len(s.subs)-1]
	s.subs = s.subs[:len(s.subs)-1]
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
