package session

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// State is where a session is in its life.
type State uint8

// Session states.
const (
	// StateHandshake: the connection is open and its request head has not
	// been answered yet.
	StateHandshake State = iota
	// StateOpen: messages flow both ways.
	StateOpen
	// StateClosing: a close was sent; waiting for the peer's or a deadline.
	StateClosing
	// StateClosed: gone from its shard.
	StateClosed
)

// Session is one client, whatever its transport. It lives on one shard for
// its whole life; fields are Loop-only unless a method says otherwise.
type Session struct {
	id    uint64
	shard *Shard
	tr    Transport
	data  any
	state State
	dirty bool // in the shard's list of sessions to flush
	// lingering: the transport has sent its last bytes and only waits for
	// the peer to leave; the wheel drops it at closeAt.
	lingering bool
	// detached: the session is no connection of its own (Shard.OpenDetached).
	detached bool
	// held: a session in its handshake that the server holds on purpose
	// (Hold): closeAt is its deadline, and 0 means none.
	held bool
	// ownBeat: the transport is a Heartbeater that keeps its ping state in
	// pingSent (SetTransport, Beat); Touch leaves it alone.
	ownBeat bool

	// Timing, in shard ticks.
	lastSeen int64 // tick of the last inbound traffic
	pingSent int64 // tick a keepalive ping went out; 0 when none is pending (ownBeat: Beat)
	closeAt  int64 // tick by which a session still in its handshake, or closing, is dropped
	due      int64 // tick the wheel checks this session next; 0 when not scheduled

	wnext, wprev *Session // the wheel slot's list
	subs         []subscription

	// inflight counts what messages sent from other goroutines and not yet
	// handed to the transport cost (sendCost), so a producer cannot queue
	// without bound in the inbox for a client that does not read.
	inflight atomic.Int64
}

// ID returns the session's identifier, unique within the process. Its high
// bits name the shard, so a session can be found from any goroutine. Safe
// for concurrent use.
func (s *Session) ID() uint64 { return s.id }

// Shard returns the shard that owns the session. Safe for concurrent use.
func (s *Session) Shard() *Shard { return s.shard }

// State returns the session's state. Loop-only.
func (s *Session) State() State { return s.state }

// Data returns the value the embedding program attached. Loop-only.
func (s *Session) Data() any { return s.data }

// SetData attaches a value for the embedding program. Loop-only.
func (s *Session) SetData(v any) { s.data = v }

// SetUser makes the session one of user's, so Hub.SendToUser reaches it.
// Loop-only.
func (s *Session) SetUser(user string) { s.Subscribe(userTopic(user)) }

// NumTopics returns how many topics the session is subscribed to (user
// membership included). Loop-only.
func (s *Session) NumTopics() int { return len(s.subs) }

// Transport returns the session's transport. Loop-only.
func (s *Session) Transport() Transport { return s.tr }

// Send queues a message for the client: on the session's loop it is written
// at the end of the current callback batch; from any other goroutine it is
// copied and handed over through the shard's inbox. Messages sent from one
// goroutine leave in the order they were sent.
//
// On the loop, the transport's cap applies at once: Send returns its
// refusal (server.ErrDropped, server.ErrSlowConsumer), or ErrClosed.
// From another goroutine, Send returns ErrBacklog when the messages waiting
// in the inbox for this session would cost more than Config.MaxInflight
// (payload plus a fixed cost per message, so that empty messages count
// too). Otherwise it returns nil before the transport has seen the message,
// and cannot report what the transport decides later on the loop: a
// message refused then is lost, counted in Stats.Dropped under a drop
// policy, or ends the session as a slow consumer (the handler's OnClose
// tells). Safe for concurrent use.
func (s *Session) Send(op codec.OpCode, payload []byte) error {
	if s.shard.OnLoop() {
		return s.write(op, payload)
	}
	cost := sendCost(len(payload))
	if max := s.shard.cfg.maxInflight; max > 0 && s.inflight.Load()+cost > max {
		return ErrBacklog
	}
	s.inflight.Add(cost)
	p := append([]byte(nil), payload...)
	err := s.shard.Post(func() {
		s.inflight.Add(-cost)
		_ = s.write(op, p)
	})
	if err != nil {
		s.inflight.Add(-cost)
	}
	return err
}

// write queues a message on the loop. Loop-only.
func (s *Session) write(op codec.OpCode, payload []byte) error {
	if s.state != StateOpen {
		return ErrClosed
	}
	if err := s.tr.WriteMessage(op, payload); err != nil {
		return err
	}
	s.shard.markDirty(s)
	s.shard.stats.MessagesOut.Add(1)
	s.shard.stats.BytesOut.Add(uint64(len(payload)))
	return nil
}

// Close starts the closing handshake with code and reason. Safe for
// concurrent use; a no-op on a session already closing.
func (s *Session) Close(code codec.StatusCode, reason string) error {
	if s.shard.OnLoop() {
		s.close(code, reason)
		return nil
	}
	return s.shard.Post(func() { s.close(code, reason) })
}

func (s *Session) close(code codec.StatusCode, reason string) {
	if s.state != StateOpen {
		return
	}
	s.state = StateClosing
	s.closeAt = s.shard.now + s.shard.cfg.closeTicks
	s.tr.Close(code, reason)
	s.shard.markDirty(s)
	s.shard.wheel.schedule(s, s.closeAt)
}

// Touch records inbound traffic: it proves the peer alive, so a pending
// keepalive ping is answered (a Heartbeater's ping is its own business:
// see Beat). Loop-only.
func (s *Session) Touch() {
	s.lastSeen = s.shard.now
	if !s.ownBeat {
		s.pingSent = 0
	}
}

// MarkOpen moves a session out of the handshake. Loop-only.
func (s *Session) MarkOpen() {
	if s.state != StateHandshake {
		return
	}
	s.state = StateOpen
	s.closeAt = 0 // the handshake deadline; an open session's is SetDeadline's
	s.Touch()
	s.shard.open++
	s.shard.stats.Sessions.Add(1)
	s.shard.stats.Opened.Add(1)
	s.shard.reschedule(s)
}

// MarkClosing records that the transport sent a close frame on its own (it
// echoed the peer's close, or failed the connection for a protocol error),
// so the session waits for the end with the closing deadline. Loop-only.
func (s *Session) MarkClosing() {
	if s.state == StateClosing || s.state == StateClosed {
		return
	}
	s.state = StateClosing
	s.closeAt = s.shard.now + s.shard.cfg.closeTicks
	s.shard.wheel.schedule(s, s.closeAt)
}

// SetDeadline makes an open session close (Session.Close with
// StatusNormalClosure) once d has passed: a long-poll's hold. It is
// checked by the shard's wheel, so it is as coarse as the tick. Loop-only.
func (s *Session) SetDeadline(d time.Duration) {
	if s.state != StateOpen || d <= 0 {
		return
	}
	tick := s.shard.cfg.tick
	s.closeAt = s.shard.now + int64((d+tick-1)/tick)
	s.shard.reschedule(s)
}

// Linger records that the transport has written its last answer (an HTTP
// error, a close frame) and only waits for the peer to read it and leave.
// The wheel drops the connection with Transport.Abort at the close
// deadline, counted from now unless the session is already closing. It
// works in any state before StateClosed, the handshake included, and keeps
// the state as it is. Loop-only.
func (s *Session) Linger() {
	if s.state == StateClosed || s.lingering {
		return
	}
	s.lingering = true
	if s.state != StateClosing {
		s.closeAt = s.shard.now + s.shard.cfg.closeTicks
	}
	s.shard.wheel.schedule(s, s.closeAt)
}

// Written marks the session as having queued output to flush. Loop-only.
func (s *Session) Written() { s.shard.markDirty(s) }

// expire is the wheel's check: it acts on whatever deadline passed and
// returns the next tick to look again, or 0 for none.
func (s *Session) expire(now int64) int64 {
	cfg := &s.shard.cfg
	if s.lingering && s.state != StateClosing {
		if now < s.closeAt {
			return s.closeAt
		}
		s.tr.Abort() // an answered request whose client did not leave
		return 0
	}
	switch s.state {
	case StateHandshake:
		if cfg.handshakeTicks <= 0 || (s.held && s.closeAt == 0) {
			return 0
		}
		if now < s.closeAt {
			return s.closeAt
		}
		s.shard.stats.Evicted(ReasonHandshakeTimeout)
		s.tr.Abort()
		return 0
	case StateClosing:
		if now < s.closeAt {
			return s.closeAt
		}
		s.shard.stats.Evicted(ReasonCloseTimeout)
		s.tr.Abort()
		return 0
	case StateOpen:
		if s.closeAt > 0 {
			if now >= s.closeAt {
				s.close(codec.StatusNormalClosure, "deadline")
				return 0
			}
			if next := s.keepalive(now, cfg); next > 0 && next < s.closeAt {
				return next
			}
			return s.closeAt
		}
		return s.keepalive(now, cfg)
	}
	return 0
}

// keepalive applies the idle timeout and the ping/pong cycle to an open
// session and returns the next tick to check it.
func (s *Session) keepalive(now int64, cfg *shardConfig) int64 {
	if hb, ok := s.tr.(Heartbeater); ok {
		return hb.Heartbeat(now)
	}
	if cfg.idleTicks > 0 && now-s.lastSeen >= cfg.idleTicks {
		s.shard.stats.Evicted(ReasonIdleTimeout)
		s.close(codec.StatusGoingAway, "idle timeout")
		return 0 // close scheduled the closing deadline
	}
	if cfg.pingTicks > 0 {
		switch {
		case s.pingSent != 0 && now-s.pingSent >= cfg.pongTicks:
			s.shard.stats.Evicted(ReasonPongTimeout)
			s.close(codec.StatusGoingAway, "ping timeout")
			return 0
		case s.pingSent == 0 && now-s.lastSeen >= cfg.pingTicks:
			s.shard.markDirty(s)
			if s.tr.Ping() {
				s.pingSent = now
			} else {
				s.lastSeen = now // a heartbeat: the next one is due a ping interval from now
			}
		}
	}
	next := int64(0)
	if cfg.idleTicks > 0 {
		next = s.lastSeen + cfg.idleTicks
	}
	if cfg.pingTicks > 0 {
		at := s.lastSeen + cfg.pingTicks
		if s.pingSent != 0 {
			at = s.pingSent + cfg.pongTicks
		}
		if next == 0 || at < next {
			next = at
		}
	}
	return next
}

// idSeq numbers sessions process-wide; the shard index goes in the top bits.
// It starts at a random point of the lower half of its 48 bits, so that
// the sessions of the nodes of a cluster have distinct ids (Hub.SendTo
// reaches a session on another node by its id): two nodes clash only when
// their ranges meet, for 52 nodes of a million sessions each a chance of
// about 1 in 50,000 per cluster start.
var idSeq = func() *atomic.Uint64 {
	var n atomic.Uint64
	n.Store(rand.Uint64N(1 << (shardIDShift - 1)))
	return &n
}()

const shardIDShift = 48
