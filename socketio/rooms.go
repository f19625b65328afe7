package socketio

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Join puts the socket in room: its session subscribes to the room's
// topic (RoomTopic), so every publication to that topic, through
// Room.Emit, the Hub or the backend API, reaches it as an event. With
// Config.Tokens the token's claims must allow the topic (ErrRoomDenied).
// Joining twice is a no-op. Called off the session's loop (a worker, a
// timer), the subscription starts once the loop has run it. Safe for
// concurrent use.
func (s *Socket) Join(room string) error { return s.joinFrom(room, nil) }

func (s *Socket) joinFrom(room string, since *codec.Position) error {
	topic, ok := RoomTopic(s.nsp.name, room)
	if !ok {
		return ErrBadRoom
	}
	srv := s.c.srv
	if srv.cfg.Tokens != nil && !srv.cfg.Policy.CanSubscribe(s.claims, topic) {
		srv.deny(server.DenySubscribe)
		return ErrRoomDenied
	}
	c := s.c
	c.mu.Lock()
	switch {
	case !s.connected:
		c.mu.Unlock()
		return ErrNotConnected
	case slices.Contains(s.rooms, room):
		c.mu.Unlock()
		return nil
	case len(s.rooms) >= srv.cfg.MaxRooms:
		c.mu.Unlock()
		return ErrTooManyRooms
	}
	s.rooms = append(s.rooms, room)
	s.fileLocked(0)
	c.mu.Unlock()
	c.onLoop(func() { c.machinery().SubscribeFrom(topic, since) })
	return nil
}

// Leave takes the socket out of room. Safe for concurrent use.
func (s *Socket) Leave(room string) {
	c := s.c
	c.mu.Lock()
	i := slices.Index(s.rooms, room)
	if i < 0 {
		c.mu.Unlock()
		return
	}
	s.rooms = slices.Delete(s.rooms, i, i+1)
	if s.connected {
		s.fileLocked(0)
	}
	c.mu.Unlock()
	s.unsubscribe([]string{room})
}

// Rooms returns the rooms the socket is in. Safe for concurrent use.
func (s *Socket) Rooms() []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return slices.Clone(s.rooms)
}

// CanPublish reports whether the socket's token allows publishing to
// room (always true without Config.Tokens). Safe for concurrent use.
func (s *Socket) CanPublish(room string) bool {
	topic, ok := RoomTopic(s.nsp.name, room)
	if !ok {
		return false
	}
	srv := s.c.srv
	return srv.cfg.Tokens == nil || srv.cfg.Policy.CanPublish(s.claims, topic)
}

// Reasons of a CONNECT refused for its token, the connect_error message.
const (
	ReasonTokenRequired = "token required"
	ReasonTokenExpired  = "token expired"
	ReasonTokenInvalid  = "invalid token"
	ReasonNoSubject     = "token has no sub"
)

// checkToken verifies the token of the socket's auth payload, with
// Config.Tokens, and keeps its claims.
func (srv *Server) checkToken(s *Socket) error {
	if srv.cfg.Tokens == nil {
		return nil
	}
	var a struct {
		Token *string `json:"token"`
	}
	_ = json.Unmarshal([]byte(s.auth), &a) // an object, checked by Parse
	token := ""
	if a.Token != nil {
		token = *a.Token
	}
	if token == "" && !srv.cfg.TokenRequired {
		return nil
	}
	claims, err := srv.cfg.Tokens.Verify(token)
	if err != nil {
		return &ConnectError{Message: tokenReason(err)}
	}
	s.claims = claims
	return nil
}

// deny counts a refusal with Config.Denied, if set.
func (srv *Server) deny(d server.Denial) {
	if srv.cfg.Denied != nil {
		srv.cfg.Denied(d)
	}
}

// tokenDenial returns the denial of checkToken's refusal.
func tokenDenial(err error) server.Denial {
	msg := err.Error()
	if ce, ok := err.(*ConnectError); ok {
		msg = ce.Message
	}
	switch msg {
	case ReasonTokenRequired:
		return server.DenyTokenRequired
	case ReasonTokenExpired:
		return server.DenyTokenExpired
	case ReasonNoSubject:
		return server.DenyNoSubject
	}
	return server.DenyTokenInvalid
}

func tokenReason(err error) string {
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return ReasonTokenRequired
	case errors.Is(err, auth.ErrExpired):
		return ReasonTokenExpired
	case errors.Is(err, auth.ErrNoSubject):
		return ReasonNoSubject
	}
	return ReasonTokenInvalid
}

// keep returns the state of the socket to keep for a reconnect: its
// rooms, each at the position the session was given (given, its
// Positions while it still held its topics), or else at the topic's
// position now (what the hub has numbered: the session cannot have been
// given more, but may have been given less, which a reconnect then
// misses).
func (s *Socket) keep(rooms []string, data any, given []codec.Position) *keptSocket {
	k := &keptSocket{sid: s.id.String(), pid: s.pid.String(), nsp: s.nsp.name, data: data, since: s.since}
	h := s.hub()
	for _, r := range rooms {
		topic, ok := RoomTopic(s.nsp.name, r)
		if !ok {
			continue
		}
		p := codec.Position{Topic: topic}
		if i := slices.IndexFunc(given, func(g codec.Position) bool { return g.Topic == topic }); i >= 0 {
			p = given[i]
		} else if h != nil {
			p.Epoch, p.Offset = h.Position(topic)
		}
		k.rooms = append(k.rooms, keptRoom{room: r, pos: p})
	}
	return k
}

// restore joins the kept socket's rooms again, each from the position the
// client last had: for the room of the client's offset (the last event
// it got) that offset, for the others the topic's position when the
// connection dropped. The publications after it come from history, before
// the CONNECT answer. It reports false when a room's history did not cover
// the gap (the client then starts afresh there).
func (s *Socket) restore(k *keptSocket) bool {
	c := s.c
	c.mu.Lock()
	for _, r := range k.rooms {
		if len(s.rooms) < c.srv.cfg.MaxRooms {
			s.rooms = append(s.rooms, r.room)
		}
	}
	rooms := slices.Clone(s.rooms)
	if k.data != nil {
		s.extra().data = k.data
	}
	c.mu.Unlock()
	var last []codec.Position
	var off struct {
		Offset string `json:"offset"`
	}
	_ = json.Unmarshal([]byte(s.auth), &off)
	if k.remote {
		return s.restoreRemote(k, rooms, off.Offset)
	}
	at, ordered := parseOrderOffset(off.Offset)
	if !ordered && off.Offset == "" && k.since > 0 {
		// The client got no publication of its rooms: it had none after
		// the socket connected.
		at, ordered = k.since, true
	}
	s.since = at
	if !ordered && off.Offset != "" {
		last, _ = codec.ParseCursor(nil, []byte(off.Offset))
	}
	froms := make([]codec.Position, 0, len(rooms))
	for _, r := range k.rooms {
		if !slices.Contains(rooms, r.room) {
			continue
		}
		p := r.pos
		if len(last) == 1 && last[0].Topic == p.Topic {
			p = last[0]
		}
		froms = append(froms, p)
	}
	ok := true
	ss := c.machinery()
	if ordered {
		// The client had every publication up to the node's order at:
		// exact in every room, whatever was in flight when it dropped.
		topics := make([]string, len(froms))
		for i, p := range froms {
			topics[i] = p.Topic
		}
		c.onLoopWait(func() {
			for _, st := range ss.SubscribeOrdered(topics, froms, at) {
				if st.Reset {
					ok = false
				}
			}
		})
		s.recovered = ok
		return ok
	}
	c.onLoopWait(func() {
		for i := range froms {
			p := froms[i]
			var since *codec.Position
			if p.Epoch != "" {
				since = &p
			}
			if st := ss.SubscribeFrom(p.Topic, since); st.Reset || since == nil {
				ok = false
			}
		}
	})
	s.recovered = ok
	return ok
}

// EncodePublication appends the Engine.IO message a topic publication
// becomes for Socket.IO clients (server.EngineConfig.Publication): an
// EVENT packet in the namespace of the publication's topic (TopicRoom).
// Data that is a JSON array whose first element is a non-reserved event
// name (what Room.Emit publishes) is that event; any other text is the
// single argument of a "message" event, as its JSON value when it is
// valid JSON, else as a JSON string; data that is not UTF-8 is a base64
// string argument (a publication is one Engine.IO message: it carries no
// attachment). With Config.Recovery, the publication's offset (an opaque
// string naming topic, epoch and offset) is the last argument, as the
// reference server appends it. It runs once per publication, whatever
// the number of subscribers: the Engine.IO layer keeps what it returns
// among the publication's shared forms. Safe for concurrent use.
func (srv *Server) EncodePublication(dst []byte, p *session.Publication) ([]byte, bool) {
	return srv.appendEvent(dst, p), false
}

// appendEvent appends the EVENT packet of a publication to dst.
func (srv *Server) appendEvent(dst []byte, p *session.Publication) []byte {
	srv.encodes.Add(1)
	nsp, _ := TopicRoom(p.Topic)
	dst = append(dst, '0'+byte(TypeEvent))
	dst = appendNamespace(dst, nsp)
	start := len(dst)
	switch {
	case p.Text && isEventArray(p.Data):
		dst = append(dst, p.Data...)
		dst = trimArrayEnd(dst, start)
	case p.Text && json.Valid(p.Data):
		dst = append(dst, `["message",`...)
		dst = append(dst, p.Data...)
	case p.Text:
		dst = append(dst, `["message",`...)
		dst = appendJSONString(dst, string(p.Data))
	default:
		dst = append(dst, `["message",`...)
		b, _ := json.Marshal(p.Data) // base64
		dst = append(dst, b...)
	}
	if srv.kept != nil && p.Order > 0 && p.Epoch != "" && !strings.HasPrefix(p.Topic, "$") {
		dst = append(dst, `,"`...)
		dst = appendOrderOffset(dst, p.Order)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// orderMark starts the offset string of a publication: its place in the
// node's order of publications across topics (session.Publication.Order),
// which no topic cursor (codec.AppendCursor, base64url) starts with.
const orderMark = '~'

// appendOrderOffset appends the offset string of a publication of the
// node's order at.
func appendOrderOffset(dst []byte, at uint64) []byte {
	return strconv.AppendUint(append(dst, orderMark), at, 36)
}

// parseOrderOffset reads an offset string of appendOrderOffset.
func parseOrderOffset(s string) (uint64, bool) {
	if len(s) < 2 || len(s) > 14 || s[0] != orderMark {
		return 0, false
	}
	at, err := strconv.ParseUint(s[1:], 36, 64)
	return at, err == nil && at > 0
}

// isEventArray reports whether data is a JSON array that starts with a
// non-reserved event name.
func isEventArray(data []byte) bool {
	if jsonKind(data) != '[' || !json.Valid(data) {
		return false
	}
	var head []json.RawMessage
	if json.Unmarshal(data, &head) != nil || len(head) == 0 {
		return false
	}
	var name string
	return jsonKind(head[0]) == '"' && json.Unmarshal(head[0], &name) == nil && !Reserved(name)
}

// trimArrayEnd removes the closing ']' (and white space around it) of the
// JSON array appended from start, so that arguments can follow.
func trimArrayEnd(dst []byte, start int) []byte {
	i := len(dst) - 1
	for i > start && (dst[i] == ' ' || dst[i] == '\t' || dst[i] == '\r' || dst[i] == '\n') {
		i--
	}
	return dst[:i] // dst[i] is ']'
}
