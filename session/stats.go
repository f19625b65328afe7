package session

import "sync/atomic"

// Reason says why the server ended a session, for metrics.
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
	numReasons
)

var reasonNames = [numReasons]string{
	"handshake_timeout", "idle_timeout", "pong_timeout", "close_timeout",
	"protocol_error", "too_big", "slow_consumer", "shutdown",
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
	Opened      atomic.Uint64 // sessions that completed a handshake
	Closed      atomic.Uint64 // sessions that ended after opening
	MessagesIn  atomic.Uint64
	MessagesOut atomic.Uint64
	BytesIn     atomic.Uint64
	BytesOut    atomic.Uint64
	// OutboundPeak is the most bytes ever queued for one session (in the
	// transport and its socket's user-space buffer) after a write was
	// accepted: the backpressure cap bounds it.
	OutboundPeak atomic.Int64
	evictions    [numReasons]atomic.Uint64
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
