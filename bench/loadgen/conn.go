package loadgen

import "time"

// Transport is what a Loop's connections speak.
type Transport uint8

const (
	// WebSocket: an upgrade request, a 101, then frames; each data
	// message goes to Handler.Message.
	WebSocket Transport = iota
	// EventStream: one GET whose 200 response is a text/event-stream
	// body (chunked, sized or ended by the close); each event goes to
	// Handler.Event. The stream ending is ErrClosedByServer.
	EventStream
	// Poll: GET requests on a kept-alive connection, one at a time: the
	// first is Config.Path, the next ones are the handler's (Loop.Get);
	// each complete reply goes to Handler.Response.
	Poll
	// SocketIO: Socket.IO v5 over Engine.IO v4 over WebSocket
	// (Config.Path is the Engine.IO URL, e.g.
	// /socket.io/?EIO=4&transport=websocket). The loop answers the
	// Engine.IO open with a CONNECT to the main namespace and every ping
	// with a pong; the namespace's CONNECT reply opens the transport
	// (Handler.Opened), and every other packet goes to Handler.Packet.
	SocketIO
)

func (t Transport) String() string {
	switch t {
	case EventStream:
		return "sse"
	case Poll:
		return "poll"
	case SocketIO:
		return "socketio"
	default:
		return "ws"
	}
}

// Conn is one client connection's state.
type Conn struct {
	fd      int
	ID      int
	state   uint8
	ready   bool // counted in Open (see Config.WaitReady)
	wantOut bool // EPOLLOUT is armed
	dialed  time.Time
	pending []byte // bytes of an incomplete frame, head or chunk line
	out     []byte // bytes not yet written

	// The HTTP transports' response in progress.
	status  int
	inBody  bool
	closing bool // the response said Connection: close
	body    bodyDecoder
	reply   []byte // Poll: the body so far
	events  eventParser

	sio sioState // SocketIO: where the Engine.IO and Socket.IO handshakes stand

	Received int // data messages, events or replies received
}

const (
	stateConnecting = iota // TCP connect in progress
	stateHandshake         // connected, waiting for the response head
	stateOpen              // the transport carries messages
	stateClosed
)

// Handler gets the events of a Loop; it runs on the loop's goroutine.
// Payloads, events and bodies are valid only during the call. Embed
// BuiltinHandler for the calls a transport does not make.
type Handler interface {
	// Opened: the transport is open: a 101 for WebSocket, a 200 head
	// for EventStream, the TCP connect for Poll, the namespace's CONNECT
	// reply for SocketIO.
	Opened(c *Conn)
	// Message: a complete WebSocket data message.
	Message(c *Conn, payload []byte)
	// Event: an EventStream event.
	Event(c *Conn, ev *Event)
	// Response: a complete Poll reply.
	Response(c *Conn, status int, body []byte)
	// Packet: a SocketIO packet other than the namespace's CONNECT,
	// CONNECT_ERROR and DISCONNECT (which the loop handles): an EVENT, an
	// ACK, a binary one with its attachments.
	Packet(c *Conn, p *Packet)
	// Closed: the connection ended (err nil for a close we asked for or a
	// close frame from the server).
	Closed(c *Conn, err error)
}

// BuiltinHandler does nothing on every event; embed it to implement only
// some of Handler.
type BuiltinHandler struct{}

func (BuiltinHandler) Opened(*Conn)                {}
func (BuiltinHandler) Message(*Conn, []byte)       {}
func (BuiltinHandler) Event(*Conn, *Event)         {}
func (BuiltinHandler) Response(*Conn, int, []byte) {}
func (BuiltinHandler) Packet(*Conn, *Packet)       {}
func (BuiltinHandler) Closed(*Conn, error)         {}

var _ Handler = BuiltinHandler{}
