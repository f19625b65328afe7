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
// Fan-out: the Hub numbers each topic's publications and posts each one
// to the shards with subscribers; a shard queues it for its sessions (each
// transport keeps a reference to the shared encoded frame) and writes the
// sessions it made dirty with one write each, at most 1,024 a round of the
// loop, so that a large fan-out never keeps the loop from polling for
// long. Publications waiting for those writes count against the shard's
// MaxBacklog, past which publishing is refused with ErrBacklog rather than
// memory growing.
//
// History (history.go): a Hub may keep each topic's recent publications,
// under a node-wide memory cap; topics are numbered within an epoch, and
// Session.SubscribeFrom replays what a client missed since its position,
// then live publications, with no gap and no duplicate, or reports a
// reset when history no longer covers it.
//
// The package never imports the reactor or net/http: a transport (WebSocket
// on gnet, later SSE and long-polling) implements Transport and an event loop
// implements Executor.
package session
