package session

import "time"

// OpenDetached creates a session, in StateHandshake, whose transport is no
// connection of its own: an Engine.IO session, which the requests and the
// WebSocket of its client reach over connections that come and go, on any
// loop. It counts as a session once open (MarkOpen) but never as a
// connection, and has no handshake deadline. Loop-only.
func (sh *Shard) OpenDetached(s *Session, tr Transport) {
	*s = Session{
		id:       uint64(sh.index)<<shardIDShift | idSeq.Add(1),
		shard:    sh,
		tr:       tr,
		lastSeen: sh.now,
		detached: true,
		held:     true,
	}
	sh.sessions[s.id] = s
}

// Hold keeps a session that is still in its handshake past the handshake
// deadline: its connection carries something other than a session of its
// own, such as an Engine.IO poll that waits for its session's packets or a
// WebSocket that relays for a session on another loop. With d > 0 the
// connection is dropped (Transport.Abort) once d has passed; d <= 0 means
// no deadline. Loop-only.
func (s *Session) Hold(d time.Duration) {
	if s.state != StateHandshake {
		return
	}
	s.held = true
	s.closeAt = 0
	if d > 0 {
		tick := s.shard.cfg.tick
		s.closeAt = s.shard.now + int64((d+tick-1)/tick)
	}
	s.shard.reschedule(s)
}

// Ticks converts d to a number of the shard's ticks, rounded up. Safe for
// concurrent use.
func (sh *Shard) Ticks(d time.Duration) int64 {
	return int64((d + sh.cfg.tick - 1) / sh.cfg.tick)
}

// SetTransport replaces the transport of a session still in its
// handshake: a connection whose request turned it into a session of
// another kind (an Engine.IO session on the connection's own WebSocket)
// keeps its session, its id and its place in the shard. When tr is a
// Heartbeater, the session's keepalive stamp becomes tr's (Beat). Loop-only.
func (s *Session) SetTransport(tr Transport) {
	if s.state != StateHandshake {
		return
	}
	s.tr = tr
	_, s.ownBeat = tr.(Heartbeater)
}

// LastSeen returns the tick of the session's last inbound traffic (Touch).
// Loop-only.
func (s *Session) LastSeen() int64 { return s.lastSeen }

// Beat returns the stamp that the session's Heartbeater (SetTransport)
// keeps in the session, where a session without one keeps the tick of its
// keepalive ping: zero until SetBeat, and Touch leaves it alone, so a
// heartbeat needs no field of its own. Loop-only.
func (s *Session) Beat() int64 { return s.pingSent }

// SetBeat sets the stamp Beat returns. It means nothing to the session
// unless its transport is a Heartbeater. Loop-only.
func (s *Session) SetBeat(b int64) {
	if s.ownBeat {
		s.pingSent = b
	}
}
