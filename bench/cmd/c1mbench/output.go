package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

// metric is the headline figure of a scenario and whether more is better.
type metric struct {
	name   string
	value  func(Row) float64
	higher bool
}

var headline = map[string][]metric{
	"hold": {
		{"rss B/conn", func(r Row) float64 { return r.RSSPerConn }, false},
		{"heap B/conn", func(r Row) float64 { return r.HeapPerConn }, false},
	},
	"fanout": {
		{"single deliveries/s", func(r Row) float64 { return r.DeliveriesPerSec }, true},
		{"burst deliveries/s", func(r Row) float64 { return r.BurstPerSec }, true},
	},
	"echo":  {{"round trips/s", func(r Row) float64 { return r.RoundTripsPerSec }, true}},
	"churn": {{"handshakes/s", func(r Row) float64 { return r.HandshakesPerSec }, true}},
	"history": {
		{"heap B/entry", func(r Row) float64 { return r.HeapPerEntry }, false},
		{"rss B/entry", func(r Row) float64 { return r.RSSPerEntry }, false},
	},
}

// finish prints the table, writes the JSON and the plots.
func (r *benchRun) finish() {
	defer os.RemoveAll(r.bin)
	stamp := r.started.UTC().Format("20060102-150405")
	if err := os.MkdirAll(r.o.out, 0o755); err != nil {
		log.Fatal(err)
	}
	r.table()
	path := filepath.Join(r.o.out, "run-"+stamp+".json")
	all := append([]string{"per-connection figures are measured at the connection counts given; a 1M figure is an extrapolation"}, notes...)
	if r.o.interleave {
		all = append(all, interleaveNote)
	}
	doc := map[string]any{
		"started": r.started.UTC().Format(time.RFC3339), "options": fmt.Sprintf("%+v", r.o), "rows": r.rows,
		"per_worker": r.capacity, "cpus": runtime.NumCPU(), "skipped": r.skipped,
		"transports": r.transports(), "socketio": r.socketio(), "targets": r.targets(),
		"notes": all,
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("results:", path)
	r.plots(filepath.Join(r.o.out, "run-"+stamp))
}

// extra are the columns of a scenario after its headline metrics.
var extra = map[string][]struct {
	name  string
	value func(Row) string
}{
	"hold": {
		{"kernel B/sock", func(r Row) string { return fmt.Sprintf("%.0f", r.KernelPerSocket) }},
		{"connects/s", func(r Row) string { return fmt.Sprintf("%.0f", r.ConnectPerSec) }},
		{"errors", func(r Row) string { return fmt.Sprint(r.Errors) }},
	},
	"fanout": {
		{"p50 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P50) }},
		{"p99 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P99) }},
		{"p999 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P999) }},
		{"burst p99 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.BurstP99) }},
		{"received/expected", func(r Row) string { return fmt.Sprintf("%d/%d", r.Received, r.Expected) }},
		{"lossy clients", func(r Row) string { return fmt.Sprint(r.LossyClients) }},
		{"dups", func(r Row) string { return fmt.Sprint(r.Duplicates) }},
		{"offset gaps", func(r Row) string { return fmt.Sprint(r.OffsetGaps) }},
		{"gen cores", func(r Row) string { return fmt.Sprintf("%.2f", r.GenCPUCores) }},
	},
	"echo": {
		{"p50 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P50) }},
		{"p99 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P99) }},
		{"p999 ms", func(r Row) string { return fmt.Sprintf("%.2f", r.P999) }},
		{"gen cores", func(r Row) string { return fmt.Sprintf("%.2f", r.GenCPUCores) }},
	},
	"churn": {
		{"errors", func(r Row) string { return fmt.Sprint(r.Errors) }},
		{"timeouts", func(r Row) string { return fmt.Sprint(r.HandshakeTimeout) }},
	},
	"history": {
		{"entries", func(r Row) string {
			if r.EntriesFromStats {
				return fmt.Sprint(r.HistoryEntries)
			}
			return fmt.Sprintf("%d*", r.HistoryEntries)
		}},
		{"stats B/entry", func(r Row) string { return fmt.Sprintf("%.0f", r.StatsBytesPerEntry) }},
		{"publishes/s", func(r Row) string { return fmt.Sprintf("%.0f", r.PublishPerSec) }},
		{"errors", func(r Row) string { return fmt.Sprint(r.PublishErrors) }},
	},
}

// interleaveNote is printed under a table made with -interleave.
const interleaveNote = "fan-outs ran with -interleave: the servers held their clients side by side and took turns publishing, so that each row's figures come from the same seconds of the machine."

// notes are printed under the table.
var notes = []string{
	"c1m ×: how many times better c1m is on that figure (>1: c1m better).",
	"fanout: single deliveries/s = deliveries that arrived / (publish to last delivery), median over single publications, each waited for until fully delivered; p50/p99/p999 = latency of each of those deliveries, publish (HTTP request sent) to arrival.",
	"fanout bursts: c1m's publish is asynchronous and coalescing (the API returns once the publication is queued to the loops; publications pending for a socket leave in one write), while the peers' publish handlers hand each message to each connection synchronously, one write per message (ceiling and node write inline; gorilla, coder, gobwas queue to a writer goroutine; gws WriteAsync; nbio writes from the handler), so burst figures compare two designs, not only two speeds.",
	"gen cores: CPU the load generator's workers used over the phase, in cores; near the worker count, the generator sets the pace, not the server.",
	"ceiling = one write(2) per socket per message, no framing, no queue: the machine's limit, not a server to choose.",
	"sse-*, poll-*: the same scenarios over Server-Sent Events and long-polling; every server gets the same publication bytes (text: sequence number, send time, kind), c1m inside its JSON envelopes, Centrifugo inside its JSON pushes. Loss is counted from sequence numbers, and offset gaps from the server's own offsets where it sends them (c1m).",
	"poll-hold: each client holds one poll (wait= -poll-wait) after a first wait=0 poll; per-connection figures are per held poll.",
	"sio-*: Socket.IO v5 clients over Engine.IO v4 WebSocket (no polling first), each joined to one room by an acked event; sio-fanout publishes through each server's HTTP endpoint (c1m: /api/publish), which emits the publication as a room event. socket.io block: × c1m = the server's RSS per idle connection / c1m's; c1m × = c1m's room fan-out / the server's; server cpu µs/delivery = the server's CPU over sio-fanout / deliveries, what a delivery costs whatever share of a busy machine the server got.",
	"history: heap B/entry = (heap after a forced GC - before) / entries, with no subscriber; the topics' own structures are spread over their entries. entries* = publications made (the server reports no count).",
}

// table prints one block per scenario: each server's figures and its ratio
// to c1m on the headline metric (>1 means c1m is better); then the
// transports block and the targets.
func (r *benchRun) table() {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	for _, sc := range allScenarios {
		rows := slices.DeleteFunc(slices.Clone(r.rows), func(x Row) bool { return x.Scenario != sc })
		if len(rows) == 0 {
			continue
		}
		kind, _ := scenarioKind(sc)
		maxConns := slices.MaxFunc(rows, func(a, b Row) int { return a.Conns - b.Conns }).Conns
		count := "conns"
		if kind == "history" {
			count = "publications"
		}
		fmt.Fprintf(tw, "\n%s\t%s\t", sc, count)
		for _, m := range headline[kind] {
			fmt.Fprintf(tw, "%s\tc1m ×\t", m.name)
		}
		for _, c := range extra[kind] {
			fmt.Fprintf(tw, "%s\t", c.name)
		}
		fmt.Fprintln(tw)
		var ref *Row
		for i := range rows {
			if rows[i].Server == "c1m" && (kind != "hold" || rows[i].Conns == maxConns) {
				ref = &rows[i]
			}
		}
		for _, row := range rows {
			if kind == "hold" && row.Conns != maxConns && row.Server != "c1m" {
				continue
			}
			n := row.Conns
			if kind == "history" {
				n = row.Publications
			}
			fmt.Fprintf(tw, "%s\t%d\t", row.Server, n)
			for _, m := range headline[kind] {
				fmt.Fprintf(tw, "%.0f\t%s\t", m.value(row), ratio(m, row, ref))
			}
			for _, c := range extra[kind] {
				fmt.Fprintf(tw, "%s\t", c.value(row))
			}
			fmt.Fprintln(tw)
		}
	}
	if ts := r.transports(); len(ts) > 0 {
		fmt.Fprintf(tw, "\ntransports\tidle ws rss B\tidle sse rss B\tsse/ws\theld poll rss B\tws fanout/s\tsse fanout/s\tsse/ws\tpoll fanout/s\tpoll p99 ms\t\n")
		f := func(v float64, format string) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf(format, v)
		}
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", t.Server,
				f(t.WSRSSPerConn, "%.0f"), f(t.SSERSSPerConn, "%.0f"), f(t.SSEOverWSMemory, "%.2f"), f(t.PollRSSPerHeld, "%.0f"),
				f(t.WSFanoutPerSec, "%.0f"), f(t.SSEFanoutPerSec, "%.0f"), f(t.SSEOverWSFanout, "%.2f"),
				f(t.PollFanoutPerSec, "%.0f"), f(t.PollP99, "%.2f"))
		}
	}
	if ss := r.socketio(); len(ss) > 0 {
		fmt.Fprintf(tw, "\nsocket.io\tidle rss B\theap B\t× c1m\troom fanout/s\tc1m ×\tburst/s\tp99 ms\tloss\tserver cpu µs/delivery\tgen cores\t\n")
		f := func(v float64, format string) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf(format, v)
		}
		for _, s := range ss {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", s.Server,
				f(s.RSSPerConn, "%.0f"), f(s.HeapPerConn, "%.0f"), f(s.RSSOverC1m, "%.2f"),
				f(s.FanoutPerSec, "%.0f"), f(s.C1mOverFanout, "%.2f"), f(s.BurstPerSec, "%.0f"), f(s.FanoutP99, "%.2f"),
				s.FanoutLoss, f(s.CPUPerDelivery, "%.2f"), f(s.GenCPUCores, "%.2f"))
		}
	}
	tw.Flush()
	fmt.Println()
	for _, t := range r.targets() {
		fmt.Println("target:", t.String())
	}
	for _, n := range notes {
		fmt.Println("note:", n)
	}
	if r.o.interleave {
		fmt.Println("note:", interleaveNote)
	}
	for _, s := range r.skipped {
		fmt.Println("no row:", s)
	}
}

// ratio is row's figure against ref's on m, as "c1m ×" shows it.
func ratio(m metric, row Row, ref *Row) string {
	if ref == nil || m.value(row) <= 0 || m.value(*ref) <= 0 {
		return "-"
	}
	q := m.value(*ref) / m.value(row)
	if !m.higher {
		q = 1 / q
	}
	return fmt.Sprintf("%.2f", q)
}

// label names a row in the plots: the server, and the transport when it
// is not WebSocket.
func label(r Row) string {
	if r.Transport == "" || r.Transport == "ws" {
		return r.Server
	}
	return r.Server + " " + r.Transport
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
