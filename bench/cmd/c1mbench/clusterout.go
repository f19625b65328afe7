package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// clusterTarget is issue 10's goal for the cluster fan-out: within 20% of
// one node's deliveries per second for the same subscribers.
const clusterTarget = 0.8

// finishCluster prints the cluster bench's tables and writes its JSON and
// plots.
func (r *benchRun) finishCluster(o clusterBenchOptions, bus []busRow) error {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fan-out\tround\tsubscribers\tsingle deliveries/s\tp50 ms\tp99 ms\tburst deliveries/s\tburst p99 ms\treceived/expected\tlossy\tserver+NATS cpu s\tgen cores\tclients per node\tmean fan-out ms per node\t")
	for _, row := range r.rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.0f\t%.2f\t%d/%d\t%d\t%.2f\t%.2f\t%v\t%s\t\n", row.Server, row.Round, row.Conns, row.DeliveriesPerSec,
			row.P50, row.P99, row.BurstPerSec, row.BurstP99, row.Received, row.Expected, row.LossyClients, row.ServerCPU, row.GenCPUCores,
			row.NodeConns, msList(row.NodeFanoutMs))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "bus cost\ttopic\tclients\tNATS msgs in/pub\tmsgs out/pub\tbytes in/pub\tbytes out/pub\treceived/expected\t")
	for _, b := range bus {
		topic := "no subscriber"
		if b.Subscribed {
			topic = "subscribed on every node"
		}
		fmt.Fprintf(tw, "%d nodes\t%s\t%d\t%.1f\t%.1f\t%.0f\t%.0f\t%d/%d\t\n", b.Nodes, topic, b.Conns, b.MsgsIn, b.MsgsOut, b.BytesIn, b.BytesOut, b.Received, b.Expected)
	}
	_ = tw.Flush()
	targets := r.clusterTargets()
	for _, t := range targets {
		fmt.Printf("target: %s = %.2f (goal %s): %v\n", t["what"], t["value"], t["goal"], t["met"])
	}
	for _, s := range r.skipped {
		fmt.Println("no row:", s)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	stamp := r.started.UTC().Format("20060102-150405")
	path := filepath.Join(o.out, "cluster-"+stamp+".json")
	doc := map[string]any{
		"started": r.started.UTC().Format(time.RFC3339), "options": fmt.Sprintf("%+v", o), "cpus": runtime.NumCPU(),
		"rows": r.rows, "bus": bus, "targets": targets, "skipped": r.skipped,
		"notes": []string{
			"every node, NATS (JetStream, streams in memory) and the load generator share this machine's cores, with other engineers' jobs during the run: compare rows of one run",
			"fan-out rows: publications through node 0's HTTP API; the cluster rows' subscribers are spread over the nodes by the kernel (SO_REUSEPORT on one port)",
			"fan-out rows are interleaved: every cluster holds its subscribers at once and their publications alternate, one round after another on the same clients; compare rows of one round, and the targets' medians of the per-round ratios",
			"node_fanout_mean_ms: each node's mean, over the singles, of the time from the publication's numbering (one node: Hub.Publish; a cluster: the history stream's timestamp) to a loop's last write",
			"bus cost: NATS /varz in_msgs, out_msgs, in_bytes, out_bytes growth over a series of publications, divided by the publications; it includes whatever else the nodes and JetStream exchanged meanwhile",
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Println("results:", path)
	prefix := filepath.Join(o.out, "cluster-"+stamp)
	// The plots draw each cluster's median round.
	(&benchRun{rows: medianRows(r.rows)}).plots(prefix)
	if ok, err := plotRatios(r.rows, prefix+"-ratios.png"); err != nil {
		return err
	} else if ok {
		fmt.Println("plot:", prefix+"-ratios.png")
	}
	if len(bus) > 0 {
		if err := plotBus(bus, prefix+"-bus.png"); err != nil {
			return err
		}
		fmt.Println("plot:", prefix+"-bus.png")
	}
	return nil
}

// clusterTargets compares each cluster's rows with the one node's
// without NATS of the same round: the ratios of every round and their
// medians, for deliveries per second (the goal) and p99 (reported).
func (r *benchRun) clusterTargets() []map[string]any {
	one := map[int]*Row{} // by round
	var labels []string
	byLabel := map[string][]*Row{}
	for i := range r.rows {
		row := &r.rows[i]
		if row.Server == "c1m 1 node" {
			one[row.Round] = row
			continue
		}
		if byLabel[row.Server] == nil {
			labels = append(labels, row.Server)
		}
		byLabel[row.Server] = append(byLabel[row.Server], row)
	}
	var out []map[string]any
	for _, l := range labels {
		var dps, p99 []float64
		conns := 0
		for _, row := range byLabel[l] {
			o := one[row.Round]
			if o == nil || o.DeliveriesPerSec <= 0 || o.P99 <= 0 {
				continue
			}
			dps = append(dps, row.DeliveriesPerSec/o.DeliveriesPerSec)
			p99 = append(p99, row.P99/o.P99)
			conns = row.Conns
		}
		if len(dps) == 0 {
			continue
		}
		q := median(dps)
		out = append(out, map[string]any{
			"what":  fmt.Sprintf("%s single deliveries/s ÷ 1 node's of the same round, %d subscribers (median of %d rounds)", l, conns, len(dps)),
			"value": q, "rounds": dps, "goal": fmt.Sprintf(">= %.2f", clusterTarget), "met": q >= clusterTarget,
		}, map[string]any{
			"what":  fmt.Sprintf("%s single p99 ÷ 1 node's of the same round (median of %d rounds)", l, len(p99)),
			"value": median(p99), "rounds": p99, "goal": "(reported)", "met": true,
		})
	}
	return out
}

// msList formats milliseconds for the table.
func msList(ms []float64) string {
	f := make([]string, len(ms))
	for i, v := range ms {
		f[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	return "[" + strings.Join(f, " ") + "]"
}

// medianRows returns, for each server of the fan-out rows in their order,
// the row of the round with the median single deliveries per second: what
// the plots draw when there are several rounds.
func medianRows(rows []Row) []Row {
	var order []string
	by := map[string][]Row{}
	for _, row := range rows {
		if by[row.Server] == nil {
			order = append(order, row.Server)
		}
		by[row.Server] = append(by[row.Server], row)
	}
	var out []Row
	for _, s := range order {
		rs := slices.Clone(by[s])
		slices.SortFunc(rs, func(a, b Row) int { return cmp.Compare(a.DeliveriesPerSec, b.DeliveriesPerSec) })
		out = append(out, rs[len(rs)/2])
	}
	return out
}

// plotBus draws NATS messages out per publication over the node count,
// for a subscribed topic and for one without subscribers.
func plotBus(bus []busRow, file string) error {
	p := plot.New()
	p.Title.Text = "NATS traffic per publication as nodes grow"
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "NATS messages out per publication"
	p.Y.Tick.Marker = linearTicks{}
	var ticks []plot.Tick
	for _, b := range bus {
		if b.Subscribed {
			ticks = append(ticks, plot.Tick{Value: float64(b.Nodes), Label: number(float64(b.Nodes))})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for _, sub := range []bool{true, false} {
		var pts plotter.XYs
		for _, b := range bus {
			if b.Subscribed == sub {
				pts = append(pts, plotter.XY{X: float64(b.Nodes), Y: b.MsgsOut})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		name := "topic with subscribers on every node"
		l.Color, s.Color, l.Width = blue, blue, vg.Points(4)
		if !sub {
			// Drawn over the other, dashed: where they coincide, both show.
			name = "topic without subscribers"
			l.Color, s.Color, l.Width = orange, orange, vg.Points(2)
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
	}
	p.X.Min, p.Y.Min = 0, 0
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(8*vg.Inch, 5*vg.Inch, file)
}
