package socketio

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// client is one Engine.IO session's Socket.IO state: the sockets of the
// namespaces it joined and a binary packet being reassembled. Its methods
// run where the Handler's do (the loop, or the session's worker), and its
// sockets' methods from any goroutine: mu guards the state.
type client struct {
	srv *Server
	s   *server.Session

	// guards the fields below
	mu      sync.Mutex
	sockets []*Socket   // one per namespace joined
	partial *partial    // a binary packet waiting for attachments
	timer   *time.Timer // the connect timeout, until a namespace is joined

	// wmu keeps the messages of one packet (a binary packet and its
	// attachments) together when several goroutines emit.
	wmu sync.Mutex

	// Guarded by mu, and small: a client is in every idle connection's
	// memory, and these keep it in the 80-byte size class.
	reason serverReason // why the server closed it, for OnDisconnect
	closed bool         // the Engine.IO session ended
}

// serverReason is why the server closed a client, one of serverReasons
// by its index plus one; 0 for none.
type serverReason uint8

// serverReasons are the reasons a close of the server's gives the
// client's sockets.
var serverReasons = [...]string{ReasonParseError, ReasonForcedClose, ReasonServerDisconnect}

// reasonOf returns reason as a serverReason; one not in serverReasons is
// a forced close.
func reasonOf(reason string) serverReason {
	i := slices.Index(serverReasons[:], reason)
	if i < 0 {
		return reasonOf(ReasonForcedClose)
	}
	return serverReason(i + 1)
}

// String returns the reason, "" for none.
func (r serverReason) String() string {
	if r == 0 {
		return ""
	}
	return serverReasons[r-1]
}

// partial is a binary packet and the attachments received so far.
type partial struct {
	p     Packet
	atts  [][]byte
	bytes int
}

// onMessage handles one Engine.IO message.
func (c *client) onMessage(m server.Message) {
	if m.Op == codec.OpBinary {
		c.mu.Lock()
		pt := c.partial
		if pt == nil {
			c.mu.Unlock()
			c.fail(ErrUnexpectedBinary)
			return
		}
		pt.bytes += len(m.Data)
		if pt.bytes > c.srv.cfg.MaxAttachmentBytes {
			c.partial = nil
			c.mu.Unlock()
			c.fail(ErrAttachmentsTooLarge)
			return
		}
		pt.atts = append(pt.atts, bytes.Clone(m.Data))
		if len(pt.atts) < pt.p.Attachments {
			c.mu.Unlock()
			return
		}
		c.partial = nil
		c.mu.Unlock()
		if err := checkPlaceholders(pt.p.Data, len(pt.atts)); err != nil {
			c.fail(err)
			return
		}
		c.dispatch(pt.p, pt.atts)
		return
	}
	c.mu.Lock()
	waiting := c.partial != nil
	c.mu.Unlock()
	if waiting {
		c.fail(ErrUnexpectedText)
		return
	}
	p, err := Parse(m.Data, c.srv.cfg.MaxAttachments)
	if err != nil {
		c.fail(err)
		return
	}
	// Data aliases the server's read buffer on the loop: the handlers and
	// a waiting binary packet keep their own copy.
	p.Data = bytes.Clone(p.Data)
	if (p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck) && p.Attachments > 0 {
		c.mu.Lock()
		c.partial = &partial{p: p, atts: make([][]byte, 0, p.Attachments)}
		c.mu.Unlock()
		return
	}
	if p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck {
		if err := checkPlaceholders(p.Data, 0); err != nil {
			c.fail(err)
			return
		}
	}
	c.dispatch(p, nil)
}

// dispatch acts on a complete packet, as the reference client does: a
// CONNECT to a namespace not joined connects; any other packet goes to the
// namespace's socket; anything else is an invalid state, which closes.
func (c *client) dispatch(p Packet, atts [][]byte) {
	sock := c.socket(p.Namespace)
	switch {
	case sock == nil && p.Type == TypeConnect:
		c.connect(p.Namespace, p.Data)
	case sock != nil && p.Type != TypeConnect && p.Type != TypeConnectError:
		sock.onPacket(p, atts)
	default:
		c.fail(ErrInvalidState)
	}
}

// socket returns the socket of namespace nsp, or nil.
func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// fail closes the Engine.IO session for a protocol error, as the
// reference server does.
func (c *client) fail(err error) {
	c.closeAll(ReasonParseError, codec.StatusProtocolError, err.Error())
}

// closeAll ends the Engine.IO session: its sockets end with reason when
// OnClose comes.
func (c *client) closeAll(reason string, code codec.StatusCode, text string) {
	c.mu.Lock()
	if c.reason == 0 {
		c.reason = reasonOf(reason)
	}
	c.mu.Unlock()
	_ = c.s.Close(code, text)
}

// connectTimedOut closes a client that joined no namespace in time. It
// runs on a timer goroutine; Session.Close is safe there.
func (c *client) connectTimedOut() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.closeAll(ReasonForcedClose, codec.StatusPolicyViolation, "connect timeout")
	}
}

// onClose ends every socket of the client: the Engine.IO session is gone.
func (c *client) onClose(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.reason != 0 {
		reason = c.reason.String()
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	socks := c.sockets
	c.sockets = nil
	c.partial = nil
	c.mu.Unlock()
	// On the loop the session still holds its topics: their positions are
	// what it was given, which a kept socket resumes from. On a worker
	// they are gone, and keep falls back to the hub's.
	var given []codec.Position
	if c.srv.kept != nil && c.s.OnLoop() {
		given = c.machinery().Positions(nil)
	}
	for _, s := range socks {
		s.ended(reason, reason != ReasonParseError && reason != ReasonServerDisconnect, given)
	}
}

// send writes one packet and its attachments as consecutive Engine.IO
// messages.
func (c *client) send(p *Packet, atts [][]byte) error {
	b := AppendPacket(make([]byte, 0, 16+len(p.Namespace)+len(p.Data)), p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.s.Send(codec.OpText, b); err != nil {
		return err
	}
	for _, a := range atts {
		if err := c.s.Send(codec.OpBinary, a); err != nil {
			return err
		}
	}
	return nil
}

// onLoop runs fn on the session's loop: at once when called there, else
// through the shard's inbox, after what was posted before (an emit's
// messages included). fn does nothing once the session has closed.
func (c *client) onLoop(fn func()) {
	if c.s.OnLoop() {
		fn()
		return
	}
	_ = c.s.Post(fn) // an error means the server is stopping: moot
}

// onLoopWait runs fn on the session's loop and waits for it; from a worker
// only (a loop never waits for a loop).
func (c *client) onLoopWait(fn func()) {
	if c.s.OnLoop() {
		fn()
		return
	}
	done := make(chan struct{})
	if c.s.Post(func() { defer close(done); fn() }) != nil {
		return
	}
	<-done
}

// machinery returns the session under the embedder's face. The layer
// needs what an embedder does not: SubscribeFrom, to resume a recovered
// socket's rooms from positions, and the shard's hub. Loop-only, as the
// methods it is for.
func (c *client) machinery() *session.Session { return (*session.Session)(c.s) }

// connectError answers a refused CONNECT to nsp with err's message and
// data.
func (c *client) connectError(nsp string, err error) {
	var body []byte
	if ce, ok := err.(*ConnectError); ok && ce.Data != nil {
		data, derr := json.Marshal(ce.Data)
		if derr != nil {
			data = []byte("null")
		}
		body = appendJSONString(append([]byte(nil), `{"message":`...), ce.Message)
		body = append(append(append(body, `,"data":`...), data...), '}')
	} else {
		msg := err.Error()
		if ce, ok := err.(*ConnectError); ok {
			msg = ce.Message
		}
		body = appendJSONString(append([]byte(nil), `{"message":`...), msg)
		body = append(body, '}')
	}
	_ = c.send(&Packet{Type: TypeConnectError, Namespace: nsp, Data: body}, nil)
}

// ConnectError refuses a CONNECT (a Namespace's Authorize): the client's
// connect_error listener gets an Error with Message, and Data as its
// data field when set.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns the message. Safe for concurrent use.
func (e *ConnectError) Error() string { return e.Message }

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}
