package session

import (
	"slices"
	"sync/atomic"
	"time"
)

// Reason says why the server ended a session or refused a connection, for
// metrics.
type Reason uint8

// Reasons for ending a session.
const (
	ReasonHandshakeTimeout Reason = iota
	ReasonIdleTimeout
	ReasonPongTimeout
	ReasonCloseTimeout
	ReasonProtocolError
	ReasonTooBig
	ReasonSlowConsumer
	ReasonShutdown
	// ReasonOverCapacity: a connection refused with 503 because the server
	// holds Config.MaxConns already.
	ReasonOverCapacity
	// ReasonInputBacklog: a client kept sending while its handler's worker
	// was behind, past what the server holds for it (server.Config.Workers).
	ReasonInputBacklog
	// ReasonPerIPLimit: a request refused with 429 because its client
	// address holds server.Config.MaxConnsPerIP connections already.
	ReasonPerIPLimit
	// ReasonRateLimited: a session closed with 1008 because it kept
	// sending commands over server.PushConfig.CommandRate.
	ReasonRateLimited
	// ReasonHandshakeRate: a request refused with 429 because its client
	// address opened sessions faster than server.Config.HandshakeRate.
	ReasonHandshakeRate
	// ReasonPerUserLimit: a request refused with 429 because its token's
	// user holds server.Config.MaxConnsPerUser sessions already.
	ReasonPerUserLimit
	// ReasonPollsPerIP: a long-poll refused with 429 because its client
	// address holds server.Config.MaxPollsPerIP held polls already.
	ReasonPollsPerIP
	// ReasonPublishRate: a session closed with 1008 because it kept
	// publishing over server.PushConfig.PublishRate.
	ReasonPublishRate
	// ReasonProxyProtocol: a connection refused with 400 for its PROXY
	// protocol header: malformed, missing where server.Config.
	// ProxyProtocol requires one, or sent by a peer that is not trusted.
	ReasonProxyProtocol
	numReasons
)

var reasonNames = [numReasons]string{
	"handshake_timeout", "idle_timeout", "pong_timeout", "close_timeout",
	"protocol_error", "too_big", "slow_consumer", "shutdown", "over_capacity",
	"input_backlog", "per_ip_limit", "rate_limited",
	"handshake_rate", "per_user_limit", "polls_per_ip", "publish_rate",
	"proxy_protocol",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every Reason, for exporting counters.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Stats are a shard's counters. They are written on the loop and read from
// anywhere. Safe for concurrent use.
type Stats struct {
	Connections atomic.Int64  // connections open now, in any state
	Sessions    atomic.Int64  // sessions open now (handshake done)
	Opened      atomic.Uint64 // sessions that completed a handshake
	Closed      atomic.Uint64 // sessions that ended after opening
	MessagesIn  atomic.Uint64
	MessagesOut atomic.Uint64
	BytesIn     atomic.Uint64
	BytesOut    atomic.Uint64
	// Publications counts publications fanned out on this shard;
	// Deliveries counts the messages they became.
	Publications atomic.Uint64
	Deliveries   atomic.Uint64
	// Replayed counts publications sent from history to resuming
	// subscribers.
	Replayed atomic.Uint64
	// FanoutLatency is the time from publish until the shard's last write
	// of it.
	FanoutLatency Histogram
	// HandedOver counts connections the loop accepted and handed to a
	// lighter loop before reading them (the server's leveling).
	HandedOver atomic.Uint64
	// LoopLag is the last measured delay between a tick posted to the
	// shard's inbox and its run on the loop, in nanoseconds.
	LoopLag atomic.Int64
	// OutboundPeak is the most bytes ever queued for one session (in the
	// transport and its socket's user-space buffer) after a write was
	// accepted: the backpressure cap bounds it.
	OutboundPeak atomic.Int64
	// Dropped counts messages and publications a transport refused under a
	// drop policy (server.SlowDrop) while the session stayed open: unlike
	// evictions, which count sessions the server ended.
	Dropped   atomic.Uint64
	evictions [numReasons]atomic.Uint64
}

// NoteOutbound records queued bytes for OutboundPeak. Loop-only: the shard's
// loop is the only writer.
func (st *Stats) NoteOutbound(n int) {
	if int64(n) > st.OutboundPeak.Load() {
		st.OutboundPeak.Store(int64(n))
	}
}

// Evicted counts a session ended by the server for reason r.
func (st *Stats) Evicted(r Reason) { st.evictions[r].Add(1) }

// Evictions returns the count for reason r.
func (st *Stats) Evictions(r Reason) uint64 { return st.evictions[r].Load() }

// LatencyBuckets are the upper bounds of Histogram's buckets, in
// increasing order. A program may set its own before it starts a server:
// each histogram takes the bounds it finds when it is first used, and
// keeps them (Histogram.Bounds).
var LatencyBuckets = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Histogram counts durations in buckets bounded by LatencyBuckets as they
// were when it was first used (the last count is for everything above).
// Its zero value works. Written on one loop, read anywhere. Safe for
// concurrent use.
type Histogram struct {
	buckets atomic.Pointer[buckets]
	sum     atomic.Int64 // nanoseconds
}

// buckets are a histogram's bounds and counts, one more count than bounds.
type buckets struct {
	bounds []time.Duration
	counts []atomic.Uint64
}

// load returns the histogram's buckets, made from LatencyBuckets on first
// use.
func (h *Histogram) load() *buckets {
	if b := h.buckets.Load(); b != nil {
		return b
	}
	b := &buckets{bounds: slices.Clone(LatencyBuckets)}
	b.counts = make([]atomic.Uint64, len(b.bounds)+1)
	if h.buckets.CompareAndSwap(nil, b) {
		return b
	}
	return h.buckets.Load()
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) {
	b := h.load()
	i := 0
	for i < len(b.bounds) && d > b.bounds[i] {
		i++
	}
	b.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Bounds returns the upper bounds of the buckets that Snapshot's counts
// are for. The slice must not be modified.
func (h *Histogram) Bounds() []time.Duration { return h.load().bounds }

// Snapshot returns per-bucket counts (not cumulative, one more than
// Bounds: the last is for everything above) and the sum.
func (h *Histogram) Snapshot() (counts []uint64, sum time.Duration) {
	b := h.load()
	counts = make([]uint64, len(b.counts))
	for i := range b.counts {
		counts[i] = b.counts[i].Load()
	}
	return counts, time.Duration(h.sum.Load())
}
