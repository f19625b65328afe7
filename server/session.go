package server

import (
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Session is a connected client as a Handler sees it, whatever its
// transport (WebSocket, SSE, streaming, polling). It offers what an
// embedding program may do with a client and nothing of the transport
// machinery, which the server drives through session.Session.
//
// Session is a defined type over session.Session, not a wrapper: the server
// hands a handler the session it holds, converted in place, so a Handler
// call costs no allocation. A *Session may be kept after OnClose: it
// then refers to a closed session (State session.StateClosed), to which
// Send delivers nothing.
//
// Loop-only methods run on the session's event loop: in a Handler method
// without Config.Workers, or in a function given to Post. From any other
// goroutine only the methods marked Safe for concurrent use may be called.
type Session session.Session

// machinery returns the session as the server and the transports see it.
func (s *Session) machinery() *session.Session { return (*session.Session)(s) }

// ID returns the session's identifier, unique within the process; the Hub
// reaches the session by it (Hub.SendTo). Safe for concurrent use.
func (s *Session) ID() uint64 { return s.machinery().ID() }

// State returns where the session is in its life: session.StateOpen while
// messages flow. A function given to Post runs later, and checks it to see
// whether the session is still open. Loop-only.
func (s *Session) State() session.State { return s.machinery().State() }

// Data returns the value attached by Request.SetData or SetData.
// Loop-only.
func (s *Session) Data() any { return s.machinery().Data() }

// SetData attaches a value for the embedding program. Loop-only.
func (s *Session) SetData(v any) { s.machinery().SetData(v) }

// SetUser makes the session one of user's, so that Hub.SendToUser reaches
// it (Request.SetUser does it before the session opens). Loop-only.
func (s *Session) SetUser(user string) { s.machinery().SetUser(user) }

// Subscribe adds the session to topic name, from now on: each publication
// to the topic (Hub.Publish) reaches it. Subscribing twice is a no-op.
// Loop-only.
func (s *Session) Subscribe(name string) { s.machinery().Subscribe(name) }

// Unsubscribe removes the session from topic name. Loop-only.
func (s *Session) Unsubscribe(name string) { s.machinery().Unsubscribe(name) }

// Topics returns the names of the session's topics (user membership
// included, as an internal topic whose name starts with '$'). Loop-only.
func (s *Session) Topics() []string { return s.machinery().Topics() }

// NumTopics returns how many topics the session is subscribed to (user
// membership included). Loop-only.
func (s *Session) NumTopics() int { return s.machinery().NumTopics() }

// Send queues a message for the client: on the session's loop it is
// written at the end of the current callback batch, and the transport's cap
// applies at once (ErrDropped, ErrSlowConsumer, or session.ErrClosed); from
// any other goroutine the payload is copied and handed over through the
// loop's inbox, and Send returns session.ErrBacklog when what waits there
// for this session passes Config.MaxInflight. Messages sent from one
// goroutine leave in the order they were sent. See session.Session.Send
// for what it cannot report from another goroutine. Safe for concurrent
// use.
func (s *Session) Send(op codec.OpCode, payload []byte) error {
	return s.machinery().Send(op, payload)
}

// Close starts the closing handshake with code and reason (a WebSocket
// close frame; the HTTP transports end their stream or answer). A no-op
// on a session already closing. Safe for concurrent use.
func (s *Session) Close(code StatusCode, reason string) error {
	return s.machinery().Close(code, reason)
}

// Post queues fn to run on the session's loop, after every task posted to
// that loop before it: from a worker (Config.Workers) or any goroutine of
// the embedding program, this is how the Loop-only methods are reached. On
// the loop itself fn runs later, not at once. fn must not block. Post
// returns an error, and fn never runs, once the server is stopping. The
// session may have closed by the time fn runs: check State. Safe for
// concurrent use.
func (s *Session) Post(fn func()) error { return s.machinery().Shard().Post(fn) }

// OnLoop reports whether the calling goroutine is the session's loop,
// where Loop-only methods may be called directly. Safe for concurrent use.
func (s *Session) OnLoop() bool { return s.machinery().Shard().OnLoop() }
