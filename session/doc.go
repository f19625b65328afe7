// Package session is c1m's transport-agnostic session model: the Session, the
// per-event-loop Shard that owns sessions, the shard's inbox through which
// other goroutines act on it, the Registry of shards, and the coarse timing
// wheel that keeps handshake deadlines, idle timeouts and keepalive pings
// without a timer per connection.
//
// Concurrency: every Shard belongs to one event loop, and so do its
// sessions, its wheel and its counters. Code that touches them runs on that
// loop ("Loop-only."). Other goroutines go through Shard.Post, which queues a
// task in the shard's FIFO inbox and wakes the loop once per batch. Each
// exported method says which of the two it is.
//
// The package never imports the reactor or net/http: a transport (WebSocket
// on gnet, later SSE and long-polling) implements Transport and an event loop
// implements Executor.
package session
