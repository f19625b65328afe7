package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Namespace is a Socket.IO namespace: its handlers, and broadcasts to its
// rooms. Register handlers before the server starts; they run where the
// server.Handler runs (the session's loop, or its worker with
// server.Config.Workers) and on the loop must not block.
type Namespace struct {
	srv  *Server
	name string

	// guards the fields below
	mu           sync.RWMutex
	authorize    func(s *Socket) error
	onConnect    func(s *Socket)
	onDisconnect func(s *Socket, reason string)
	events       map[string]EventHandler
	onAny        func(s *Socket, event string, args Args, ack *Ack)
}

// EventHandler handles one event from a client: its arguments, and ack,
// non-nil when the client waits for an acknowledgement (call ack.Send
// once). args are the handler's own.
type EventHandler func(s *Socket, args Args, ack *Ack)

// Name returns the namespace's name. Safe for concurrent use.
func (n *Namespace) Name() string { return n.name }

// Authorize sets the decision on each CONNECT to the namespace, before it
// is answered: a nil error accepts, a *ConnectError (or any error, whose
// text becomes the message) refuses with a CONNECT_ERROR that the client
// sees as connect_error. s.Auth() is the handshake's auth payload. The
// socket may not emit yet. Safe for concurrent use.
func (n *Namespace) Authorize(fn func(s *Socket) error) {
	n.mu.Lock()
	n.authorize = fn
	n.mu.Unlock()
}

// OnConnect sets the handler of each accepted socket, run once the
// CONNECT is answered. Safe for concurrent use.
func (n *Namespace) OnConnect(fn func(s *Socket)) {
	n.mu.Lock()
	n.onConnect = fn
	n.mu.Unlock()
}

// OnDisconnect sets the handler run once when a socket leaves, with the
// reference server's reason ("client namespace disconnect", "transport
// close", "ping timeout", "server namespace disconnect", "forced server
// close", "parse error"). Safe for concurrent use.
func (n *Namespace) OnDisconnect(fn func(s *Socket, reason string)) {
	n.mu.Lock()
	n.onDisconnect = fn
	n.mu.Unlock()
}

// On sets the handler of event. Safe for concurrent use.
func (n *Namespace) On(event string, fn EventHandler) {
	n.mu.Lock()
	if n.events == nil {
		n.events = map[string]EventHandler{}
	}
	n.events[event] = fn
	n.mu.Unlock()
}

// OnAny sets the handler of the events that have no handler of their own.
// Safe for concurrent use.
func (n *Namespace) OnAny(fn func(s *Socket, event string, args Args, ack *Ack)) {
	n.mu.Lock()
	n.onAny = fn
	n.mu.Unlock()
}

func (n *Namespace) handlers() (func(*Socket) error, func(*Socket), func(*Socket, string)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.authorize, n.onConnect, n.onDisconnect
}

// To returns room of the namespace, for broadcasts. Safe for concurrent
// use.
func (n *Namespace) To(room string) Room { return Room{nsp: n, name: room} }

// Room is a room of a namespace, for broadcasts.
type Room struct {
	nsp  *Namespace
	name string
}

// Emit sends event with args to every socket in the room, on every node
// and loop, by publishing it to the room's topic through the hub (Server.
// Attach): WebSocket, SSE and poll clients of that topic get the JSON
// array ["event", args...] as a text message. Arguments are marshalled
// with encoding/json (a []byte as a base64 string: a publication carries
// no attachment). It returns the publication's offset in the topic. Safe
// for concurrent use.
func (r Room) Emit(event string, args ...any) (uint64, error) {
	if Reserved(event) {
		return 0, ErrReservedEvent
	}
	topic, ok := RoomTopic(r.nsp.name, r.name)
	if !ok {
		return 0, ErrBadRoom
	}
	h := r.nsp.srv.hub.Load()
	if h == nil {
		return 0, ErrNoHub
	}
	data := appendJSONString([]byte{'['}, event)
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			return 0, err
		}
		data = append(append(data, ','), b...)
	}
	data = append(data, ']')
	return h.Publish(topic, data)
}

// ValidNamespace reports whether name can be a namespace: "/" or '/'
// followed by up to 64 printable ASCII bytes without space, ',' or '#'
// ('#' separates a namespace from a room in topic names). Safe for
// concurrent use.
func ValidNamespace(name string) bool {
	if len(name) == 0 || name[0] != '/' || len(name) > maxNamespaceLen {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '#' {
			return false
		}
	}
	return true
}

const maxNamespaceLen = 65

// RoomTopic returns the topic of room in namespace nsp: the room's own
// name in the main namespace "/" (where room names may not start with
// '/'), and nsp + "#" + room in another. It reports false for a name that
// makes no valid topic (codec.ValidTopic). Safe for concurrent use.
func RoomTopic(nsp, room string) (string, bool) {
	if room == "" || !ValidNamespace(nsp) {
		return "", false
	}
	topic := room
	if nsp != MainNamespace {
		topic = nsp + "#" + room
	} else if room[0] == '/' {
		return "", false
	}
	if !codec.ValidTopic(topic) {
		return "", false
	}
	return topic, true
}

// TopicRoom is RoomTopic's inverse: the namespace and room of a topic. A
// topic that no room maps to (an internal one, "" for a broadcast) is in
// the main namespace. Safe for concurrent use.
func TopicRoom(topic string) (nsp, room string) {
	if strings.HasPrefix(topic, "/") {
		if ns, r, ok := strings.Cut(topic, "#"); ok {
			return ns, r
		}
	}
	return MainNamespace, topic
}

// connect connects the client to namespace name, the auth payload authData
// (JSON object or nil) in hand.
func (c *client) connect(name string, authData []byte) {
	nsp := c.srv.namespace(name)
	if nsp == nil {
		c.connectError(name, &ConnectError{Message: "Invalid namespace"})
		return
	}
	auth := "{}"
	if authData != nil {
		auth = string(authData)
	}
	sock := &Socket{c: c, nsp: nsp, auth: auth}
	if err := c.srv.checkToken(sock); err != nil {
		c.srv.deny(tokenDenial(err))
		c.connectError(name, err)
		return
	}
	if sock.claims != nil && sock.claims.Subject != "" {
		// The token's user, as on the other transports, within
		// server.Config.MaxConnsPerUser: its session takes the user's slot
		// before the socket counts as connected.
		var err error
		c.onLoopWait(func() { err = c.s.AdmitUser(sock.claims.Subject) })
		if err != nil {
			c.connectError(name, &ConnectError{Message: server.ReasonUserLimit})
			return
		}
	}
	if c.srv.store != nil {
		if pid := pidOf(auth); pid != "" {
			c.takeThenAccept(nsp, sock, pid)
			return
		}
	}
	var k *keptSocket
	if c.srv.kept != nil {
		k = c.srv.kept.take([]byte(auth), name)
	}
	c.accept(nsp, sock, k, nil)
}

// accept answers the CONNECT of sock, recovering k (nil for none), taken
// from the store as rec (nil for none).
func (c *client) accept(nsp *Namespace, sock *Socket, k *keptSocket, rec []byte) {
	name := nsp.name
	if k != nil {
		sock.id, sock.pid, sock.hasPID = parseSockID(k.sid), parseSockID(k.pid), k.pid != ""
	} else {
		sock.id = newSockID()
		if c.srv.kept != nil {
			sock.pid, sock.hasPID = newSockID(), true
			if h := c.hubOf(); h != nil {
				sock.since = h.Order()
			}
		}
	}
	authorize, onConnect, _ := nsp.handlers()
	if authorize != nil {
		if err := authorize(sock); err != nil {
			c.connectError(name, err)
			return
		}
	}
	c.mu.Lock()
	if c.closed || slices.ContainsFunc(c.sockets, func(o *Socket) bool { return o.nsp == nsp }) {
		// Gone while its record was looked up: the record goes back. Or a
		// second CONNECT to the namespace came meanwhile: an invalid state,
		// as a packet of a namespace being connected is to the reference.
		closed := c.closed
		c.mu.Unlock()
		if rec != nil {
			c.srv.store.Put(sock.pid.String(), rec, false)
		}
		if !closed {
			c.fail(ErrInvalidState)
		}
		return
	}
	sock.connected = true
	c.sockets = append(c.sockets, sock)
	if sock.claims != nil && sock.claims.ExpiresAt != nil {
		// As on the other transports, a session ends when its token
		// expires.
		sock.extra().expiry = time.AfterFunc(time.Until(sock.claims.ExpiresAt.Time), func() {
			c.closeAll(ReasonForcedClose, codec.StatusPolicyViolation, ReasonTokenExpired)
		})
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	// As the reference server, the missed packets go before the CONNECT
	// answer: the client buffers them and hands them over once connected.
	if k != nil && !sock.restore(k) {
		sock.pid, sock.hasPID = newSockID(), true // tells the client that it did not recover
	}
	body := appendJSONString(append([]byte(nil), `{"sid":`...), sock.id.String())
	if sock.hasPID {
		body = appendJSONString(append(body, `,"pid":`...), sock.pid.String())
	}
	body = append(body, '}')
	_ = c.send(&Packet{Type: TypeConnect, Namespace: name, Data: body}, nil)
	if onConnect != nil {
		onConnect(sock)
	}
	sock.file()
}

// sockID is a socket's id or pid: 15 random bytes (120 bits), shown as
// 20 base64url characters. A socket holds the bytes and formats them on
// demand, which spares each socket two small string allocations.
type sockID [15]byte

// newSockID returns a random sockID.
func newSockID() (id sockID) {
	_, _ = rand.Read(id[:])
	return id
}

// String returns the id's 20 base64url characters. Safe for concurrent use.
func (id sockID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// parseSockID reads an id that String wrote.
func parseSockID(s string) (id sockID) {
	_, _ = base64.RawURLEncoding.Decode(id[:], []byte(s))
	return id
}

// hubOf returns the hub of the client's server, or nil.
func (c *client) hubOf() *session.Hub {
	if h := c.srv.hub.Load(); h != nil {
		return h
	}
	return c.machinery().Shard().Hub()
}
