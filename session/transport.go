package session

import "github.com/c1mhq/c1m/codec"

// Transport carries a session's messages to its client: a WebSocket
// connection, later an SSE stream or a long-poll queue. All methods are
// Loop-only: the shard calls them on the loop that owns the connection.
type Transport interface {
	// WriteMessage queues one message (OpText or OpBinary) for the client.
	// The payload is copied or encoded before it returns. Queued bytes
	// leave at the next Flush.
	WriteMessage(op codec.OpCode, payload []byte) error
	// WritePublication queues a publication in the transport's wire form,
	// normally the form shared by every session of that kind
	// (Publication.Encoded). An error means the transport's backpressure
	// policy refused it.
	WritePublication(p *Publication) error
	// Flush writes what was queued since the last Flush, in one system call
	// where the transport can.
	Flush()
	// Subscribed tells the client where a new subscription to topic
	// starts (the publications it replays, if any, follow).
	Subscribed(topic string, st Start)
	// Ping asks the client for a sign of life (a WebSocket ping) and
	// reports whether an answer is due: a transport whose client cannot
	// answer (a stream) sends a heartbeat instead and reports false, and
	// only its writes tell whether the client is gone.
	Ping() (awaitsAnswer bool)
	// Close starts closing with a status code and a reason for the client;
	// the transport reports the end with Shard.Closed.
	Close(code codec.StatusCode, reason string)
	// Abort drops the connection without a closing handshake (a handshake
	// that never completed, a peer that never answered the close).
	Abort()
}

// Heartbeater is a Transport with a keepalive of its own (Engine.IO's
// ping and pong packets, on its own intervals): the shard's wheel calls
// Heartbeat for an open session instead of applying Config's idle timeout
// and ping cycle. Heartbeat is Loop-only; it acts on what came due at tick
// now (sends a ping, closes the session) and returns the next tick at which
// it wants to be called, or 0 for none.
type Heartbeater interface {
	Heartbeat(now int64) (next int64)
}

// Executor runs a function on an event loop. gnet.EventLoop.Execute is one;
// a test can use a goroutine. Execute is Safe for concurrent use.
type Executor interface {
	Execute(fn func()) error
}

// Start is where a subscription begins: the client receives every
// publication to the topic after Offset in Epoch.
type Start struct {
	Epoch  string
	Offset uint64
	// From is the offset after which the replay that follows begins
	// (the client's position); Offset when nothing is replayed.
	From uint64
	// Reset: the client asked to resume from a position that history no
	// longer covers (another epoch, entries already dropped, or an offset
	// the topic never reached); it starts from Offset instead.
	Reset bool
}
