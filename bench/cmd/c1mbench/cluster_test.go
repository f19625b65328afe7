package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcGroupKillsAll: every process a cluster run starts is in one
// group, and killAll ends them all, also one that a child of theirs would
// have left running (the grandchild here is in the group too).
func TestProcGroupKillsAll(t *testing.T) {
	t.Parallel()
	g := &procGroup{}
	t.Cleanup(g.killAll)
	var cmds []*exec.Cmd
	for range 3 {
		cmd := exec.Command("sh", "-c", "sleep 300 & wait")
		if err := g.start(cmd); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds[1:] {
		pgid, err := syscall.Getpgid(c.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if pgid != cmds[0].Process.Pid {
			t.Fatalf("process %d is in group %d, want %d", c.Process.Pid, pgid, cmds[0].Process.Pid)
		}
	}
	g.killAll()
	for _, c := range cmds {
		select {
		case <-g.exited(c):
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("process %d still runs", c.Process.Pid)
		}
	}
	// The sleeps were in the group too: nothing of it is left.
	if err := syscall.Kill(-cmds[0].Process.Pid, 0); err == nil {
		t.Fatal("the group still has processes after killAll")
	}
}

// TestParseFanoutSum reads the fan-out histogram's sum and count from a
// node's /metrics, with or without the node label a cluster node adds, and
// reports a page without them as unread.
func TestParseFanoutSum(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, page string
		want       fanoutSum
	}{
		{"single node", "# HELP x\nc1m_fanout_latency_seconds_bucket{le=\"+Inf\"} 4\nc1m_fanout_latency_seconds_sum 0.5\nc1m_fanout_latency_seconds_count 4\n", fanoutSum{0.5, 4, true}},
		{"cluster node", "c1m_fanout_latency_seconds_sum{node=\"node-1\"} 1.25e+00\nc1m_fanout_latency_seconds_count{node=\"node-1\"} 10\ngo_goroutines 9\n", fanoutSum{1.25, 10, true}},
		{"no histogram", "go_goroutines 9\nc1m_fanout_latency_seconds_sum 2\n", fanoutSum{sum: 2}},
	} {
		got := parseFanoutSum(bufio.NewScanner(strings.NewReader(c.page)))
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	ms := meanFanoutMs([]fanoutSum{{1, 10, true}, {0, 0, false}, {2, 5, true}}, []fanoutSum{{1.5, 20, true}, {3, 3, true}, {2, 5, true}})
	if want := []float64{50, -1, -1}; !slices.Equal(ms, want) {
		t.Errorf("meanFanoutMs = %v, want %v", ms, want)
	}
}

// TestClusterTargets: each cluster's ratio to the one node is taken round
// by round, and the target is their median; the plots draw each server's
// median round.
func TestClusterTargets(t *testing.T) {
	t.Parallel()
	r := &benchRun{}
	for round, v := range [][3]float64{{100, 90, 10}, {200, 100, 40}, {50, 20, 5}} { // one node's dps, the cluster's, p99s
		r.rows = append(r.rows,
			Row{Server: "c1m 1 node", Round: round + 1, DeliveriesPerSec: v[0], P99: v[2]},
			Row{Server: "c1m 3 nodes, NATS", Round: round + 1, Conns: 9, DeliveriesPerSec: v[1], P99: 2 * v[2]})
	}
	got := r.clusterTargets()
	if len(got) != 2 {
		t.Fatalf("%d targets, want 2: %v", len(got), got)
	}
	if v, met := got[0]["value"].(float64), got[0]["met"].(bool); v != 0.5 || met {
		t.Fatalf("deliveries/s target %v met %v, want the median of 0.9, 0.5, 0.4 = 0.5, not met", v, met)
	}
	if v := got[1]["value"].(float64); v != 2 {
		t.Fatalf("p99 ratio %v, want 2", v)
	}
	med := medianRows(r.rows)
	if len(med) != 2 || med[0].Round != 1 || med[1].Round != 1 {
		t.Fatalf("median rows %+v, want round 1 of each (one node 100 of 50, 100, 200; cluster 90 of 20, 90, 100)", med)
	}
}

// TestFanoutSpecs: the fan-out compares one node, one over NATS and a
// cluster per -fanout-loops entry, each labelled once.
func TestFanoutSpecs(t *testing.T) {
	t.Parallel()
	labels := func(o clusterBenchOptions) []string {
		specs, err := fanoutSpecs(o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range specs {
			out = append(out, fmt.Sprintf("%s/%d/%d/%v", s.label, s.co.nodes, s.co.loops, s.co.nats))
		}
		return out
	}
	for _, c := range []struct {
		o    clusterBenchOptions
		want []string
	}{
		{clusterBenchOptions{fanoutNodes: 3, fanoutLoops: "0,1", natsOne: true},
			[]string{"c1m 1 node/1/0/false", "c1m 1 node, NATS/1/0/true", "c1m 3 nodes, NATS/3/0/true", "c1m 3 nodes, NATS, 1 loop each/3/1/true"}},
		{clusterBenchOptions{fanoutNodes: 1, fanoutLoops: "0,6", natsOne: true},
			[]string{"c1m 1 node/1/0/false", "c1m 1 node, NATS/1/0/true", "c1m 1 node, NATS, 6 loops each/1/6/true"}},
		{clusterBenchOptions{fanoutNodes: 3, loops: 2},
			[]string{"c1m 1 node/1/2/false", "c1m 3 nodes, NATS, 2 loops each/3/2/true"}},
	} {
		if got := labels(c.o); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
	if _, err := fanoutSpecs(clusterBenchOptions{fanoutNodes: 3, fanoutLoops: "1,x"}); err == nil {
		t.Error("-fanout-loops 1,x was taken")
	}
}

// TestRoundRatios: each cluster's ratio is to the one node of its own
// round, and the plot of them is drawn.
func TestRoundRatios(t *testing.T) {
	t.Parallel()
	rows := []Row{
		{Server: "c1m 1 node", Round: 1, DeliveriesPerSec: 100},
		{Server: "c1m 3 nodes, NATS", Round: 1, DeliveriesPerSec: 120},
		{Server: "c1m 1 node", Round: 2, DeliveriesPerSec: 50},
		{Server: "c1m 3 nodes, NATS", Round: 2, DeliveriesPerSec: 40},
	}
	labels, ratios := roundRatios(rows)
	if len(labels) != 1 || labels[0] != "c1m 3 nodes, NATS" {
		t.Fatalf("labels %q", labels)
	}
	got := ratios[labels[0]]
	if len(got) != 2 || got[0].X != 1 || got[0].Y != 1.2 || got[1].X != 2 || got[1].Y != 0.8 {
		t.Fatalf("ratios %v, want (1, 1.2) (2, 0.8)", got)
	}
	file := t.TempDir() + "/ratios.png"
	if ok, err := plotRatios(rows, file); err != nil || !ok {
		t.Fatalf("plotRatios: %v, %v", ok, err)
	}
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Fatalf("no plot: %v", err)
	}
	if ok, _ := plotRatios(rows[:1], file); ok {
		t.Fatal("a plot without a cluster row")
	}
}
