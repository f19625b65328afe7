package session

import (
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
	numReasons
)

var reasonNames = [numReasons]string{
	"handshake_timeout", "idle_timeout", "pong_timeout", "close_timeout",
	"protocol_error", "too_big", "slow_consumer", "shutdown", "over_capacity",
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

// LatencyBuckets are the upper bounds of Histogram's buckets.
var LatencyBuckets = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Histogram counts durations in LatencyBuckets (the last count is for
// everything above). Written on one loop, read anywhere. Safe for
// concurrent use.
type Histogram struct {
	counts [18]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns per-bucket counts (not cumulative) and the sum.
func (h *Histogram) Snapshot() (counts []uint64, sum time.Duration) {
	counts = make([]uint64, len(h.counts))
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
	}
	return counts, time.Duration(h.sum.Load())
}
