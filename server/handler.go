package server

import (
	"net"
	"net/url"

	"github.com/c1mhq/c1m/codec"
)

// StatusCode is a WebSocket close code.
type StatusCode = codec.StatusCode

// Message is one complete message from a client.
type Message struct {
	// Op is codec.OpText or codec.OpBinary.
	Op codec.OpCode
	// Data is the payload. On the loop it aliases the server's read buffer
	// and is valid only until OnMessage returns: copy what you keep. With
	// Config.Workers it is the handler's own copy.
	Data []byte
}

// Text reports whether the message is a text message (valid UTF-8).
func (m Message) Text() bool { return m.Op == codec.OpText }

// Handler is what an embedding program implements. Unless Config.Workers is
// set, every method runs on the session's event loop and must not block.
// The *Session each method gets is the client as the embedding API shows
// it; which of its methods may be called where, each one's doc says.
type Handler interface {
	// OnConnect decides on an upgrade request once it is a valid WebSocket
	// handshake and before it is answered: return nil to accept, or
	// Reject(status, reason) to refuse with an HTTP status (401, 403...). It
	// always runs on the loop.
	OnConnect(r *Request) error
	// OnOpen runs when the session is open.
	OnOpen(s *Session)
	// OnMessage runs for each complete message.
	OnMessage(s *Session, m Message)
	// OnClose runs once when an opened session ends, with the close code
	// and reason the peer sent (StatusAbnormalClosure when the connection
	// dropped without one, StatusNoStatus for an empty close frame).
	OnClose(s *Session, code StatusCode, reason string)
}

// BuiltinHandler implements every Handler method as a no-op that accepts all
// connections. Embed it and override what you need.
type BuiltinHandler struct{}

// OnConnect accepts.
func (BuiltinHandler) OnConnect(*Request) error { return nil }

// OnOpen does nothing.
func (BuiltinHandler) OnOpen(*Session) {}

// OnMessage does nothing.
func (BuiltinHandler) OnMessage(*Session, Message) {}

// OnClose does nothing.
func (BuiltinHandler) OnClose(*Session, StatusCode, string) {}

var _ Handler = BuiltinHandler{}

// Reject returns an error for OnConnect that refuses the upgrade with an
// HTTP status and a short plain-text reason.
func Reject(status int, reason string) error { return codec.Reject(status, reason) }

// RejectWith is Reject with header lines in the answer, each ending in
// CR LF ("WWW-Authenticate: Bearer\r\n"), on every transport. Safe for
// concurrent use.
func RejectWith(status int, reason, header string) error {
	return codec.RejectWith(status, reason, header)
}

// Request is an upgrade request as OnConnect sees it. It is valid only
// during OnConnect.
type Request struct {
	req     *codec.Request
	remote  net.Addr
	data    any
	user    string
	topics  []string
	resumed []string
}

// Path returns the request path, as sent (not unescaped).
func (r *Request) Path() string { return string(r.req.Path) }

// Query parses the query string. Malformed pairs are skipped.
func (r *Request) Query() url.Values {
	q, _ := url.ParseQuery(string(r.req.RawQuery))
	return q
}

// Header returns the first value of a request header field, or "".
func (r *Request) Header(name string) string { return string(r.req.Header(name)) }

// RemoteAddr returns the client's address: the TCP peer, or behind a
// proxy of Config.TrustedProxies the client address the proxy forwarded
// (its port is then 0).
func (r *Request) RemoteAddr() net.Addr { return r.remote }

// SetData attaches a value to the session about to open (Session.Data).
func (r *Request) SetData(v any) { r.data = v }

// SetUser makes the session about to open one of user's sessions, so that
// Hub.SendToUser reaches it.
func (r *Request) SetUser(user string) { r.user = user }

// Resumed returns the topics that the request's cursor names besides its
// topic parameters: a client resuming a session hands back every topic it
// had. The handler decides whether to Subscribe them again.
func (r *Request) Resumed() []string { return r.resumed }

// Subscribe subscribes the session about to open to topic, before any
// message can reach it. A position the request gave for the topic (since=,
// cursor=, Last-Event-ID) applies: the session resumes from it.
func (r *Request) Subscribe(topic string) { r.topics = append(r.topics, topic) }
