package socketio

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Socket is a client's connection to one namespace. Its methods are safe
// for concurrent use unless they say otherwise.
type Socket struct {
	c         *client
	nsp       *Namespace
	id, pid   sockID // pid: with Config.Recovery only (hasPID)
	hasPID    bool
	recovered bool
	auth      string // the CONNECT's auth payload (a string: 8 bytes fewer than a slice)
	claims    *auth.Claims
	// since is, with Config.Recovery, the node's order of publications
	// (session.Publication.Order) when the socket connected: a client
	// that hands back no offset had none of its rooms' publications
	// after it.
	since uint64

	// guarded by c.mu
	connected bool
	rooms     []string // room names, in join order
	// what most sockets never need, allocated on first use (extra): an
	// idle socket stays in the 128-byte size class.
	more *socketMore
}

// socketMore is the state only some sockets need. Guarded by c.mu.
type socketMore struct {
	acks      map[uint64]*pendingAck
	nextAck   uint64
	data      any
	bucket    *eventBucket // ServePush's rate, once it sent an event
	pubBucket *eventBucket // ServePush's publish rate, once it published
	expiry    *time.Timer  // closes the client when its token expires
}

// extra returns the socket's socketMore, allocating it. c.mu held.
func (s *Socket) extra() *socketMore {
	if s.more == nil {
		s.more = &socketMore{}
	}
	return s.more
}

// pendingAck is an EmitWithAck waiting for the client's answer.
type pendingAck struct {
	fn    func(Args, error)
	timer *time.Timer
}

// ID returns the socket's id (not the Engine.IO session's, which is kept
// private, as in the reference server). Safe for concurrent use.
func (s *Socket) ID() string { return s.id.String() }

// Namespace returns the socket's namespace. Safe for concurrent use.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Auth returns the CONNECT's auth payload, a JSON object ({} when the
// client sent none). With recovery it also holds the client's pid and
// offset. Safe for concurrent use.
func (s *Socket) Auth() json.RawMessage { return json.RawMessage(s.auth) }

// Claims returns the verified token's claims, nil without Config.Tokens
// or for an anonymous client. Safe for concurrent use.
func (s *Socket) Claims() *auth.Claims { return s.claims }

// Recovered reports whether the socket took over the state of one whose
// connection dropped (Config.Recovery): same id, rooms back, missed room
// publications replayed. Safe for concurrent use.
func (s *Socket) Recovered() bool { return s.recovered }

// Session returns the Engine.IO session under the socket (one per client,
// shared by its namespaces). Safe for concurrent use.
func (s *Socket) Session() *server.Session { return s.c.s }

// Data returns the value set with SetData. Safe for concurrent use.
func (s *Socket) Data() any {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.more == nil {
		return nil
	}
	return s.more.data
}

// SetData attaches a value to the socket; with recovery it is kept with
// the socket's state and restored with it. Safe for concurrent use.
func (s *Socket) SetData(v any) {
	s.c.mu.Lock()
	if v != nil || s.more != nil {
		s.extra().data = v
	}
	if s.connected {
		s.fileLocked(0)
	}
	s.c.mu.Unlock()
}

// Connected reports whether the socket is still in its namespace. Safe
// for concurrent use.
func (s *Socket) Connected() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.connected
}

// Emit sends event with args to the client (see MakeArgs: a []byte
// argument travels as a binary attachment). Safe for concurrent use.
func (s *Socket) Emit(event string, args ...any) error {
	a, err := MakeArgs(args...)
	if err != nil {
		return err
	}
	return s.EmitArgs(event, a)
}

// EmitArgs sends event with args as they are. Safe for concurrent use.
func (s *Socket) EmitArgs(event string, args Args) error {
	return s.emit(event, args, false, 0)
}

// EmitWithAck sends event with args and calls fn once with the client's
// acknowledgement, or with ErrAckTimeout after timeout (zero means
// Config.AckTimeout), or ErrNotConnected when the socket leaves first. fn
// runs where the client's packets are handled (the loop or the session's
// worker) for an answer, on a timer goroutine otherwise: it must not block
// and may call only the methods that are safe for concurrent use. Past
// Config.MaxPendingAcks waiting, it returns ErrTooManyAcks. Safe for
// concurrent use.
func (s *Socket) EmitWithAck(event string, timeout time.Duration, fn func(Args, error), args ...any) error {
	a, err := MakeArgs(args...)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = s.c.srv.cfg.AckTimeout
	}
	c := s.c
	c.mu.Lock()
	if !s.connected {
		c.mu.Unlock()
		return ErrNotConnected
	}
	m := s.extra()
	if len(m.acks) >= c.srv.cfg.MaxPendingAcks {
		c.mu.Unlock()
		return ErrTooManyAcks
	}
	if m.acks == nil {
		m.acks = map[uint64]*pendingAck{}
	}
	id := m.nextAck
	m.nextAck++
	pa := &pendingAck{fn: fn}
	m.acks[id] = pa
	pa.timer = time.AfterFunc(timeout, func() {
		if s.takeAck(id) != nil {
			fn(Args{}, ErrAckTimeout)
		}
	})
	c.mu.Unlock()
	if err := s.emit(event, a, true, id); err != nil {
		if s.takeAck(id) != nil {
			pa.timer.Stop()
		}
		return err
	}
	return nil
}

// takeAck removes and returns pending ack id, or nil.
func (s *Socket) takeAck(id uint64) *pendingAck {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.more == nil {
		return nil
	}
	pa := s.more.acks[id]
	delete(s.more.acks, id)
	return pa
}

func (s *Socket) emit(event string, args Args, withID bool, id uint64) error {
	if Reserved(event) {
		return ErrReservedEvent
	}
	if !s.Connected() {
		return ErrNotConnected
	}
	p := Packet{Type: TypeEvent, Namespace: s.nsp.name, HasID: withID, ID: id}
	if len(args.Binary) > 0 {
		p.Type, p.Attachments = TypeBinaryEvent, len(args.Binary)
	}
	p.Data = appendArray(nil, appendJSONString(nil, event), args.JSON)
	return s.c.send(&p, args.Binary)
}

// Ack answers a client's event that asked for an acknowledgement.
type Ack struct {
	s    *Socket
	id   uint64
	sent bool // guarded by s.c.mu
}

// Send answers with args (as Emit's); only the first call sends. Safe for
// concurrent use.
func (a *Ack) Send(args ...any) error {
	v, err := MakeArgs(args...)
	if err != nil {
		return err
	}
	return a.SendArgs(v)
}

// SendArgs answers with args as they are; only the first call sends. Safe
// for concurrent use.
func (a *Ack) SendArgs(args Args) error {
	c := a.s.c
	c.mu.Lock()
	if a.sent {
		c.mu.Unlock()
		return nil
	}
	a.sent = true
	c.mu.Unlock()
	p := Packet{Type: TypeAck, Namespace: a.s.nsp.name, HasID: true, ID: a.id}
	if len(args.Binary) > 0 {
		p.Type, p.Attachments = TypeBinaryAck, len(args.Binary)
	}
	p.Data = appendArray(nil, nil, args.JSON)
	return c.send(&p, args.Binary)
}

// Disconnect makes the socket leave its namespace (a DISCONNECT packet
// tells the client, whose socket then does not reconnect) and, with
// close, ends the whole client: every namespace and the Engine.IO
// session. Safe for concurrent use.
func (s *Socket) Disconnect(close bool) {
	if !close {
		if s.leave() {
			_ = s.c.send(&Packet{Type: TypeDisconnect, Namespace: s.nsp.name}, nil)
			s.ended(ReasonServerDisconnect, false, nil)
		}
		return
	}
	c := s.c
	c.mu.Lock()
	socks := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, o := range socks {
		if o.leave() {
			_ = c.send(&Packet{Type: TypeDisconnect, Namespace: o.nsp.name}, nil)
			o.ended(ReasonServerDisconnect, false, nil)
		}
	}
	// The client closes its Engine.IO session itself once every socket of
	// its Manager got a DISCONNECT. The server closes it after
	// disconnectGrace only if the client did not: closed at once, a
	// polling client could get the close packet in the same payload as
	// the DISCONNECTs and take it for a transport close, and reconnect.
	c.mu.Lock()
	if c.reason == 0 {
		c.reason = reasonOf(ReasonServerDisconnect)
	}
	c.mu.Unlock()
	time.AfterFunc(disconnectGrace, func() { _ = c.s.Close(codec.StatusNormalClosure, "server disconnect") })
}

// disconnectGrace is how long a client told to disconnect from all its
// namespaces has to close its Engine.IO session itself before the server
// does. The reference server closes after its write buffer drained: the
// DISCONNECT packets then leave in an answer of their own.
const disconnectGrace = time.Second

// onPacket handles a packet for the socket's namespace.
func (s *Socket) onPacket(p Packet, atts [][]byte) {
	switch p.Type {
	case TypeEvent, TypeBinaryEvent:
		if p.Data == nil {
			return // no event: the reference server dispatches nothing either
		}
		name, args, err := EventName(p.Data)
		if err != nil {
			s.c.fail(err)
			return
		}
		var ack *Ack
		if p.HasID {
			ack = &Ack{s: s, id: p.ID}
		}
		s.nsp.mu.RLock()
		h, any := s.nsp.events[name], s.nsp.onAny
		s.nsp.mu.RUnlock()
		a := Args{JSON: args, Binary: atts}
		switch {
		case h != nil:
			h(s, a, ack)
		case any != nil:
			any(s, name, a, ack)
		}
	case TypeAck, TypeBinaryAck:
		var args []json.RawMessage
		if p.Data != nil && json.Unmarshal(p.Data, &args) != nil {
			s.c.fail(ErrBadPayload)
			return
		}
		if !p.HasID {
			return // the reference ignores an ack without id
		}
		if pa := s.takeAck(p.ID); pa != nil {
			pa.timer.Stop()
			pa.fn(Args{JSON: args, Binary: atts}, nil)
		}
	case TypeDisconnect:
		if s.leave() {
			s.ended(ReasonClientDisconnect, false, nil)
		}
	}
}

// leave takes the socket out of its client and its rooms' topics, and
// reports whether it was still connected.
func (s *Socket) leave() bool {
	c := s.c
	c.mu.Lock()
	if !s.connected {
		c.mu.Unlock()
		return false
	}
	s.connected = false
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	rooms := s.rooms
	s.rooms = nil
	c.mu.Unlock()
	s.unsubscribe(rooms)
	return true
}

func (s *Socket) unsubscribe(rooms []string) {
	if len(rooms) == 0 {
		return
	}
	topics := make([]string, 0, len(rooms))
	for _, r := range rooms {
		if t, ok := RoomTopic(s.nsp.name, r); ok {
			topics = append(topics, t)
		}
	}
	ss := s.c.s
	s.c.onLoop(func() {
		for _, t := range topics {
			ss.Unsubscribe(t)
		}
	})
}

// ended runs once when the socket has left: pending acks fail, the state
// is kept for recovery when keep (the connection dropped), and the
// namespace's disconnect handler runs.
func (s *Socket) ended(reason string, keep bool, given []codec.Position) {
	c := s.c
	c.mu.Lock()
	s.connected = false
	rooms := s.rooms
	var acks map[uint64]*pendingAck
	var data any
	if m := s.more; m != nil {
		acks, data = m.acks, m.data
		m.acks = nil
		if m.expiry != nil {
			m.expiry.Stop()
			m.expiry = nil
		}
	}
	c.mu.Unlock()
	for _, pa := range acks {
		pa.timer.Stop()
		pa.fn(Args{}, ErrNotConnected)
	}
	if keep && c.srv.kept != nil && s.hasPID {
		c.srv.kept.put(s.keep(rooms, data, given))
		c.mu.Lock()
		s.fileLocked(time.Now().UnixMilli())
		c.mu.Unlock()
	} else {
		s.unfile()
	}
	if _, _, fn := s.nsp.handlers(); fn != nil {
		fn(s, reason)
	}
}

// hub returns the hub the socket's topics live in.
func (s *Socket) hub() *session.Hub { return s.c.hubOf() }
