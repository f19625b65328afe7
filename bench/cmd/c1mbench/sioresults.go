package main

import "fmt"

// SocketIOSummary is one server's Socket.IO figures in a run: RSS and heap
// per idle Socket.IO connection (sio-hold at the largest count), room
// fan-out deliveries per second and p99 (sio-fanout). A zero is a row the
// run does not have.
type SocketIOSummary struct {
	Server        string  `json:"server"`
	HoldConns     int     `json:"hold_conns"`
	RSSPerConn    float64 `json:"rss_bytes_per_conn"`
	HeapPerConn   float64 `json:"heap_bytes_per_conn"`
	FanoutConns   int     `json:"fanout_conns"`
	FanoutPerSec  float64 `json:"fanout_deliveries_per_sec"`
	BurstPerSec   float64 `json:"fanout_burst_deliveries_per_sec"`
	FanoutP99     float64 `json:"fanout_p99_ms"`
	FanoutLoss    int64   `json:"fanout_loss"` // missing publications + lossy clients
	GenCPUCores   float64 `json:"fanout_generator_cpu_cores"`
	FanoutCPUSecs float64 `json:"fanout_server_cpu_sec"`
	FanoutElapsed float64 `json:"fanout_elapsed_sec"`
	// CPUPerDelivery is the server's CPU time over sio-fanout divided by
	// the deliveries (singles and bursts), in microseconds: what a
	// delivery costs whatever share of the cores the server got on a
	// busy machine.
	CPUPerDelivery float64 `json:"fanout_server_cpu_us_per_delivery"`
	RSSOverC1m     float64 `json:"rss_over_c1m,omitempty"`    // this server's RSS per connection / c1m's
	C1mOverFanout  float64 `json:"c1m_fanout_over,omitempty"` // c1m's deliveries/s / this server's
	HoldConnectsPS float64 `json:"connects_per_sec"`
}

// socketio summarises every server with a Socket.IO row, c1m first when
// it has one (the run's order).
func (r *benchRun) socketio() []SocketIOSummary {
	var out []SocketIOSummary
	seen := map[string]bool{}
	for _, row := range r.rows {
		if row.Transport != "sio" || seen[row.Server] {
			continue
		}
		seen[row.Server] = true
		s := SocketIOSummary{Server: row.Server}
		if x := r.rowOf(row.Server, "sio-hold"); x != nil {
			s.HoldConns, s.RSSPerConn, s.HeapPerConn, s.HoldConnectsPS = x.Conns, x.RSSPerConn, x.HeapPerConn, x.ConnectPerSec
		}
		if x := r.rowOf(row.Server, "sio-fanout"); x != nil {
			s.FanoutConns, s.FanoutPerSec, s.BurstPerSec, s.FanoutP99 = x.Conns, x.DeliveriesPerSec, x.BurstPerSec, x.P99
			s.FanoutLoss = x.Missing + int64(x.LossyClients)
			s.GenCPUCores, s.FanoutCPUSecs, s.FanoutElapsed = x.GenCPUCores, x.ServerCPU, x.Elapsed
			if x.Received > 0 {
				s.CPUPerDelivery = x.ServerCPU / float64(x.Received) * 1e6
			}
		}
		out = append(out, s)
	}
	var c1m *SocketIOSummary
	for i := range out {
		if out[i].Server == targetServer {
			c1m = &out[i]
		}
	}
	if c1m != nil {
		for i := range out {
			if out[i].RSSPerConn > 0 && c1m.RSSPerConn > 0 {
				out[i].RSSOverC1m = out[i].RSSPerConn / c1m.RSSPerConn
			}
			if out[i].FanoutPerSec > 0 && c1m.FanoutPerSec > 0 {
				out[i].C1mOverFanout = c1m.FanoutPerSec / out[i].FanoutPerSec
			}
		}
	}
	return out
}

// Issue 9's goals against the official Node server, at 19k connections.
const (
	sioTargetPeer       = "socketio-node"
	goalSIOMemoryShare  = 0.10 // c1m's RSS per idle Socket.IO connection at most a tenth of Node socket.io's
	goalSIOFanoutOverJS = 5.0  // c1m's room fan-out at least 5× Node socket.io's
)

// socketioTargets checks c1m's Socket.IO figures against issue 9's goals.
func (r *benchRun) socketioTargets() []Target {
	var c1m, node *SocketIOSummary
	ss := r.socketio()
	for i := range ss {
		switch ss[i].Server {
		case targetServer:
			c1m = &ss[i]
		case sioTargetPeer:
			node = &ss[i]
		}
	}
	if c1m == nil || node == nil {
		return nil
	}
	var out []Target
	if c1m.RSSPerConn > 0 && node.RSSPerConn > 0 {
		q := c1m.RSSPerConn / node.RSSPerConn
		out = append(out, Target{fmt.Sprintf("c1m RSS per idle Socket.IO connection / Node socket.io's at %d (%.0f B / %.0f B)", c1m.HoldConns, c1m.RSSPerConn, node.RSSPerConn),
			q, fmt.Sprintf("≤ %.2f", goalSIOMemoryShare), q <= goalSIOMemoryShare})
	}
	if c1m.FanoutPerSec > 0 && node.FanoutPerSec > 0 {
		q := c1m.FanoutPerSec / node.FanoutPerSec
		out = append(out, Target{fmt.Sprintf("c1m Socket.IO room fan-out / Node socket.io's, deliveries/s at %d (p99 %.2f ms / %.2f ms)", c1m.FanoutConns, c1m.FanoutP99, node.FanoutP99),
			q, fmt.Sprintf("≥ %.1f", goalSIOFanoutOverJS), q >= goalSIOFanoutOverJS})
	}
	return out
}
