package main

import "fmt"

// TransportSummary is one server's figures over its transports, from the
// rows of one run: memory per idle connection (the hold rows at -n, the
// largest count), per held poll, and fan-out deliveries per second. A
// zero is a row the run does not have.
type TransportSummary struct {
	Server           string  `json:"server"`
	WSConns          int     `json:"ws_conns"`
	WSRSSPerConn     float64 `json:"ws_rss_bytes_per_conn"`
	WSHeapPerConn    float64 `json:"ws_heap_bytes_per_conn"`
	SSEConns         int     `json:"sse_conns"`
	SSERSSPerConn    float64 `json:"sse_rss_bytes_per_conn"`
	SSEHeapPerConn   float64 `json:"sse_heap_bytes_per_conn"`
	SSEOverWSMemory  float64 `json:"sse_over_ws_rss"` // idle SSE RSS / idle WebSocket RSS, per connection
	PollConns        int     `json:"poll_conns"`
	PollRSSPerHeld   float64 `json:"poll_rss_bytes_per_held"`
	PollHeapPerHeld  float64 `json:"poll_heap_bytes_per_held"`
	WSFanoutPerSec   float64 `json:"ws_fanout_deliveries_per_sec"`
	SSEFanoutPerSec  float64 `json:"sse_fanout_deliveries_per_sec"`
	SSEOverWSFanout  float64 `json:"sse_over_ws_fanout"` // SSE deliveries/s / WebSocket deliveries/s
	PollFanoutPerSec float64 `json:"poll_fanout_deliveries_per_sec"`
	PollP99          float64 `json:"poll_fanout_p99_ms"`
	PollLoss         int64   `json:"poll_fanout_loss"` // missing publications + offset gaps + lossy clients
}

// rowOf is the row of server and scenario with the most connections.
func (r *benchRun) rowOf(server, scenario string) *Row {
	var best *Row
	for i := range r.rows {
		x := &r.rows[i]
		if x.Server == server && x.Scenario == scenario && (best == nil || x.Conns > best.Conns) {
			best = x
		}
	}
	return best
}

// transports summarises every server that has an SSE or long-polling row.
func (r *benchRun) transports() []TransportSummary {
	var out []TransportSummary
	seen := map[string]bool{}
	for _, row := range r.rows {
		if (row.Transport != "sse" && row.Transport != "poll") || seen[row.Server] {
			continue
		}
		seen[row.Server] = true
		t := TransportSummary{Server: row.Server}
		if x := r.rowOf(row.Server, "hold"); x != nil {
			t.WSConns, t.WSRSSPerConn, t.WSHeapPerConn = x.Conns, x.RSSPerConn, x.HeapPerConn
		}
		if x := r.rowOf(row.Server, "sse-hold"); x != nil {
			t.SSEConns, t.SSERSSPerConn, t.SSEHeapPerConn = x.Conns, x.RSSPerConn, x.HeapPerConn
		}
		if x := r.rowOf(row.Server, "poll-hold"); x != nil {
			t.PollConns, t.PollRSSPerHeld, t.PollHeapPerHeld = x.Conns, x.RSSPerConn, x.HeapPerConn
		}
		if x := r.rowOf(row.Server, "fanout"); x != nil {
			t.WSFanoutPerSec = x.DeliveriesPerSec
		}
		if x := r.rowOf(row.Server, "sse-fanout"); x != nil {
			t.SSEFanoutPerSec = x.DeliveriesPerSec
		}
		if x := r.rowOf(row.Server, "poll-fanout"); x != nil {
			t.PollFanoutPerSec, t.PollP99 = x.DeliveriesPerSec, x.P99
			t.PollLoss = x.Missing + x.OffsetGaps + int64(x.LossyClients)
		}
		if t.WSRSSPerConn > 0 && t.SSERSSPerConn > 0 && t.WSConns == t.SSEConns {
			t.SSEOverWSMemory = t.SSERSSPerConn / t.WSRSSPerConn
		}
		if t.WSFanoutPerSec > 0 && t.SSEFanoutPerSec > 0 {
			t.SSEOverWSFanout = t.SSEFanoutPerSec / t.WSFanoutPerSec
		}
		out = append(out, t)
	}
	return out
}

// Target is one of issue 8's or 9's measured goals for c1m, as this run
// met it.
type Target struct {
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

func (t Target) String() string {
	met := "not met"
	if t.Met {
		met = "met"
	}
	return fmt.Sprintf("%s: %.2f (goal %s: %s)", t.What, t.Value, t.Goal, met)
}

// Issue 8's goals, at 19k connections (a run at another -n says so).
const (
	goalSSEOverWSMemory  = 1.10 // an idle SSE connection within 10% of an idle WebSocket one
	goalHeldPollBytes    = 1536 // at most 1.5 KiB per held poll
	goalSSEOverPeer      = 3.0  // SSE fan-out at least 3× Centrifugo's
	goalSSEOverWSFanout  = 0.75 // and within 25% of c1m's own WebSocket fan-out
	targetPeer           = "centrifugo"
	targetServer         = "c1m"
	targetPollFanoutLoss = 0
)

// targets checks c1m's figures of this run against issue 8's goals (its
// HTTP transports) and issue 9's (Socket.IO).
func (r *benchRun) targets() []Target {
	return append(r.transportTargets(), r.socketioTargets()...)
}

// transportTargets checks c1m's figures against issue 8's goals.
func (r *benchRun) transportTargets() []Target {
	var c1m, peer *TransportSummary
	ts := r.transports()
	for i := range ts {
		switch ts[i].Server {
		case targetServer:
			c1m = &ts[i]
		case targetPeer:
			peer = &ts[i]
		}
	}
	if c1m == nil {
		return nil
	}
	var out []Target
	at := func(n int) string { return fmt.Sprintf(" at %d", n) }
	if c1m.SSEOverWSMemory > 0 {
		out = append(out, Target{"c1m idle SSE RSS / idle WebSocket RSS per connection" + at(c1m.SSEConns),
			c1m.SSEOverWSMemory, fmt.Sprintf("≤ %.2f", goalSSEOverWSMemory), c1m.SSEOverWSMemory <= goalSSEOverWSMemory})
	}
	if c1m.PollRSSPerHeld != 0 {
		out = append(out, Target{"c1m RSS bytes per held long-poll" + at(c1m.PollConns),
			c1m.PollRSSPerHeld, fmt.Sprintf("≤ %d", goalHeldPollBytes), c1m.PollRSSPerHeld <= goalHeldPollBytes})
	}
	if peer != nil && c1m.SSEFanoutPerSec > 0 && peer.SSEFanoutPerSec > 0 {
		q := c1m.SSEFanoutPerSec / peer.SSEFanoutPerSec
		out = append(out, Target{"c1m SSE fan-out / Centrifugo SSE fan-out, deliveries/s", q, fmt.Sprintf("≥ %.1f", goalSSEOverPeer), q >= goalSSEOverPeer})
	}
	if c1m.SSEOverWSFanout > 0 {
		out = append(out, Target{"c1m SSE fan-out / c1m WebSocket fan-out, deliveries/s", c1m.SSEOverWSFanout,
			fmt.Sprintf("≥ %.2f", goalSSEOverWSFanout), c1m.SSEOverWSFanout >= goalSSEOverWSFanout})
	}
	if x := r.rowOf(targetServer, "poll-fanout"); x != nil {
		out = append(out, Target{fmt.Sprintf("c1m long-poll fan-out loss (missing + offset gaps + lossy clients) at %d, p99 %.2f ms", x.Conns, x.P99),
			float64(c1m.PollLoss), fmt.Sprintf("= %d", targetPollFanoutLoss), c1m.PollLoss == targetPollFanoutLoss})
	}
	return out
}
