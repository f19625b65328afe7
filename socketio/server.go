package socketio

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Config configures a Server. Its zero value works.
type Config struct {
	// ConnectTimeout closes a client that has connected to no namespace
	// this long after its Engine.IO session opened. Zero means 45s (the
	// reference server's); negative disables it.
	ConnectTimeout time.Duration
	// MaxAttachments caps the binary attachments of one packet. Zero
	// means 10 (the reference parser's); over it the client is closed.
	MaxAttachments int
	// MaxAttachmentBytes caps the bytes of one packet's attachments
	// together, held while the packet is reassembled. Zero means 1 MiB;
	// over it the client is closed.
	MaxAttachmentBytes int
	// MaxPendingAcks caps the acknowledgements a socket waits for from its
	// client (EmitWithAck); past it EmitWithAck returns ErrTooManyAcks.
	// Zero means 256.
	MaxPendingAcks int
	// AckTimeout is how long EmitWithAck waits when it is given no
	// timeout. Zero means 30s.
	AckTimeout time.Duration
	// MaxRooms caps the rooms one socket joins. Zero means 64.
	MaxRooms int
	// Recovery enables connection state recovery (socket.io 4.6+): nil
	// disables it.
	Recovery *RecoveryConfig
	// Tokens, when set, verifies the token field of each CONNECT's auth
	// payload ({"token":"..."}) like the other transports' connection
	// tokens: a bad or expired token is refused with a CONNECT_ERROR, the
	// token's sub becomes the session's user, and Policy decides the rooms
	// a socket joins (as topics) and the rooms its emits publish to. Nil
	// means no tokens and no Policy.
	Tokens *auth.Verifier
	// TokenRequired refuses a CONNECT without a token. Off by default.
	TokenRequired bool
	// Policy is the topic rule set for tokens; its zero value is
	// auth.Policy's default.
	Policy auth.Policy
	// Request, when set, decides on each Engine.IO handshake request (the
	// Handler's OnConnect): return server.Reject to refuse it.
	Request func(r *server.Request) error
	// Denied, when set, counts each refusal by its reason, under the
	// names of the other transports' (server.Push.CountDenial): a token
	// refused at CONNECT, a room or a publish outside the Policy, a push
	// event over ServePush's rates. It is called from any goroutine.
	Denied func(server.Denial)
}

// RecoveryConfig configures connection state recovery: a client whose
// connection drops keeps its socket id, its rooms and the room
// publications it missed when it reconnects within Window. Missed
// publications come from topic history (server.Config.History), so the
// rooms' topics must keep at least what a Window of publications holds.
type RecoveryConfig struct {
	// Window is how long a disconnected socket's state is kept. Zero means
	// 2 minutes (the reference server's maxDisconnectionDuration).
	Window time.Duration
	// MaxSessions caps the disconnected sockets kept at once; past it the
	// oldest is forgotten. Zero means 10,000.
	MaxSessions int
}

// Defaults of Config.
const (
	DefaultConnectTimeout     = 45 * time.Second
	DefaultMaxAttachments     = 10
	DefaultMaxAttachmentBytes = 1 << 20
	DefaultMaxPendingAcks     = 256
	DefaultAckTimeout         = 30 * time.Second
	DefaultMaxRooms           = 64
	DefaultRecoveryWindow     = 2 * time.Minute
	DefaultRecoverySessions   = 10_000
)

// Server is the Socket.IO v5 layer over an Engine.IO server: it
// implements server.Handler for the Engine.IO sessions (EngineConfig), and
// its namespaces call the embedder's handlers. See the package doc.
type Server struct {
	cfg Config

	// guards the fields below
	mu   sync.RWMutex
	nsps map[string]*Namespace

	clients clientTable // session ID -> *client
	hub     atomic.Pointer[session.Hub]
	kept    *keptStore    // nil without Recovery
	store   RecoveryStore // UseStore's, nil for none
	node    string        // UseStore's
	encodes atomic.Uint64 // publications encoded, for Stats
}

// Stats are a Server's counters.
type Stats struct {
	// Encoded counts the publications encoded as events: once each,
	// whatever the number of subscribers.
	Encoded uint64
	// Kept is the number of disconnected sockets kept for recovery.
	Kept int
}

// Stats returns the server's counters. Safe for concurrent use.
func (s *Server) Stats() Stats {
	st := Stats{Encoded: s.encodes.Load()}
	if s.kept != nil {
		st.Kept = s.kept.len()
	}
	return st
}

var _ server.Handler = (*Server)(nil)

// New returns a Server; cfg nil means defaults (cfg is copied). It serves
// the namespaces created with Of; a client asking for another gets
// "Invalid namespace". Safe for concurrent use.
func New(cfg *Config) *Server {
	s := &Server{nsps: map[string]*Namespace{}}
	if cfg != nil {
		s.cfg = *cfg
	}
	c := &s.cfg
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = DefaultMaxAttachments
	}
	if c.MaxAttachmentBytes <= 0 {
		c.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if c.MaxPendingAcks <= 0 {
		c.MaxPendingAcks = DefaultMaxPendingAcks
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.Recovery != nil {
		r := *c.Recovery
		if r.Window <= 0 {
			r.Window = DefaultRecoveryWindow
		}
		if r.MaxSessions <= 0 {
			r.MaxSessions = DefaultRecoverySessions
		}
		c.Recovery = &r
		s.kept = newKeptStore(r.Window, r.MaxSessions)
	}
	return s
}

// Attach gives s the hub of the server that runs it (server.Server.Hub),
// which broadcasts to rooms (Server.To) go through. Call it once, before
// broadcasting. Safe for concurrent use.
//
// Rooms and recovery need the shard machinery behind the embedding API
// (the loops' inboxes, the node's order of publications): s converts h to
// it explicitly.
func (s *Server) Attach(h *server.Hub) { s.hub.Store((*session.Hub)(h)) }

// Of returns namespace name, creating it on first use. name starts with
// '/' and holds no '#' or space (ValidNamespace); Of panics otherwise.
// Safe for concurrent use.
func (s *Server) Of(name string) *Namespace {
	if !ValidNamespace(name) {
		panic("socketio: invalid namespace name " + name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsps[name]
	if n == nil {
		n = &Namespace{srv: s, name: name}
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// OnConnect decides on an Engine.IO handshake request with
// Config.Request, if set. It runs on the loop.
func (s *Server) OnConnect(r *server.Request) error {
	if s.cfg.Request != nil {
		return s.cfg.Request(r)
	}
	return nil
}

// OnOpen starts a client: it waits for CONNECT packets, up to
// Config.ConnectTimeout. Runs where server.Handler.OnOpen runs.
func (s *Server) OnOpen(ss *server.Session) {
	c := &client{srv: s, s: ss}
	s.clients.store(ss.ID(), c)
	if d := s.cfg.ConnectTimeout; d > 0 {
		// A runtime timer per client until its first CONNECT (namespace.go
		// stops it; a connected client holds none): 145-151 B of heap per
		// connecting client, the runtime's timer and the method value
		// (TestConnectingClientMemory, Go 1.26.8, 2026-11-30), and an
		// insertion and a removal in the runtime's timer heap of the P.
		// The shards' timing wheel would cost no allocation, but it offers
		// a handler no callback: session.Session.SetDeadline (which
		// server.Session does not expose) closes the session with 1000
		// "deadline" unconditionally, where the timeout must look at
		// expiry whether a namespace was joined (as the reference's does),
		// and cancelling it would move into the connect path.
		c.mu.Lock()
		c.timer = time.AfterFunc(d, c.connectTimedOut)
		c.mu.Unlock()
	}
}

// OnMessage decodes a Socket.IO packet, or a binary attachment of one,
// and acts on it. Runs where server.Handler.OnMessage runs.
func (s *Server) OnMessage(ss *server.Session, m server.Message) {
	if c := s.clients.load(ss.ID()); c != nil {
		c.onMessage(m)
	}
}

// OnClose ends the client's sockets: each gets its disconnect handler
// and, with Recovery, is kept for a reconnect. Runs where
// server.Handler.OnClose runs.
func (s *Server) OnClose(ss *server.Session, code server.StatusCode, reason string) {
	if c := s.clients.remove(ss.ID()); c != nil {
		c.onClose(closeReason(code, reason))
	}
}

// Disconnect reasons, as the reference server names them.
const (
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonServerDisconnect = "server namespace disconnect"
	ReasonTransportClose   = "transport close"
	ReasonPingTimeout      = "ping timeout"
	ReasonForcedClose      = "forced server close"
	ReasonParseError       = "parse error"
	ReasonTransportError   = "transport error"
)

// closeReason names why an Engine.IO session ended, from the reason the
// Engine.IO layer gives: its own names pass, anything else (a close code
// without a known reason) is a transport close.
func closeReason(_ server.StatusCode, reason string) string {
	switch reason {
	case ReasonPingTimeout, ReasonParseError, ReasonTransportError:
		return reason
	}
	return ReasonTransportClose
}
