package main

// The cluster fan-out, interleaved: every cluster of the comparison (one
// node, one node over NATS, N nodes over NATS with each -fanout-loops)
// runs at once and holds its -n subscribers, and their publications
// alternate (the first single of each, then the second of each, ...), so
// that on a shared machine every row's figures come from the same seconds.
// -rounds repeats the measured phase on the same clients, each round a row
// per cluster, for medians and ratios within a round.

import (
	"bufio"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// laneSpec is one cluster of the fan-out comparison.
type laneSpec struct {
	label string
	co    clusterOptions
}

// fanoutSpecs lists the clusters the fan-out compares: one node without
// NATS, one over NATS (unless -nats-one=false), and -fanout-nodes nodes
// over NATS for each entry of -fanout-loops.
func fanoutSpecs(o clusterBenchOptions) ([]laneSpec, error) {
	specs := []laneSpec{{"c1m 1 node", clusterOptions{nodes: 1, loops: o.loops}}}
	if o.natsOne {
		specs = append(specs, laneSpec{"c1m 1 node, NATS", clusterOptions{nodes: 1, nats: true, loops: o.loops}})
	}
	loops := []int{o.loops}
	if strings.TrimSpace(o.fanoutLoops) != "" {
		loops = nil
		for _, f := range strings.Split(o.fanoutLoops, ",") {
			l, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || l < 0 {
				return nil, fmt.Errorf("-fanout-loops: %q", f)
			}
			loops = append(loops, l)
		}
	}
	for _, l := range loops {
		label := fmt.Sprintf("c1m %d node%s, NATS", o.fanoutNodes, plural(o.fanoutNodes))
		if l > 0 {
			label += fmt.Sprintf(", %d loop%s each", l, plural(l))
		}
		if !slices.ContainsFunc(specs, func(s laneSpec) bool { return s.label == label }) { // -fanout-nodes 1: the NATS row already
			specs = append(specs, laneSpec{label, clusterOptions{nodes: o.fanoutNodes, nats: true, loops: l}})
		}
	}
	return specs, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// liveClusters is every cluster running, for the signal handler and the
// watchdog to kill.
type liveClusters struct {
	mu sync.Mutex
	cs []*cluster
}

func (l *liveClusters) add(c *cluster) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cs = append(l.cs, c)
}

// stop kills c and forgets it.
func (l *liveClusters) stop(c *cluster) {
	c.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.cs {
		if x == c {
			l.cs = append(l.cs[:i], l.cs[i+1:]...)
			break
		}
	}
}

// stopAll kills every cluster still running.
func (l *liveClusters) stopAll() {
	l.mu.Lock()
	cs := l.cs
	l.cs = nil
	l.mu.Unlock()
	for _, c := range cs {
		c.stop()
	}
}

// clusterLane is one cluster of the fan-out with its clients connected.
type clusterLane struct {
	label   string
	c       *cluster
	w       *workerSet
	workers int
	conns   int
	perNode []int64 // clients per node, as the nodes count them
}

// t is the target the lane publishes to: node 0's API.
func (l *clusterLane) t() target {
	return target{name: l.label, api: l.c.nodes[0].api, topic: "t", publish: publishing{path: "/api/publish?topic="}}
}

// connectLane starts a cluster and connects n subscribers to it.
func (r *benchRun) connectLane(c1m string, s laneSpec, n int, live *liveClusters) (*clusterLane, error) {
	c, err := startCluster(c1m, s.co)
	if err != nil {
		return nil, err
	}
	live.add(c)
	counts := split(n, r.capacity, r.o.workers)
	w, err := startWorkers(s.label, workerOptions{
		scenario: "fanout", addr: c.ws, path: "/ws?topic=t", transport: "ws", dialect: dialectRaw,
		size: r.o.size, inflight: defaultInflight, interval: r.o.interval / workerLinesPerInterval,
		handshake: loadgen.DefaultHandshakeTimeout, group: c.group,
	}, counts, loadgen.SourcesFor(r.capacity, r.o.connsPerSource))
	if err != nil {
		live.stop(c)
		return nil, err
	}
	l := &clusterLane{label: s.label, c: c, w: w, workers: len(counts)}
	fail := func(err error) (*clusterLane, error) {
		w.stop()
		live.stop(c)
		return nil, err
	}
	if !w.waitReady(3 * time.Minute) {
		return fail(fmt.Errorf("clients did not connect in time (last error: %s)", w.total().LastErr))
	}
	l.conns = w.total().Conns
	if l.perNode, err = waitClusterConns(c, l.conns, time.Minute); err != nil {
		return fail(err)
	}
	log.Printf("%s: %d clients, per node %v", s.label, l.conns, l.perNode)
	return l, nil
}

// clusterFanouts runs the fan-out comparison: every cluster of specs at
// once with n subscribers each, rounds measured phases with their
// publications alternating, a row per cluster and round.
func (r *benchRun) clusterFanouts(c1m string, specs []laneSpec, n, rounds int, live *liveClusters) {
	var lanes []*clusterLane
	for _, s := range specs {
		l, err := r.connectLane(c1m, s, n, live)
		if err != nil {
			r.skip("%s: %v", s.label, err)
			continue
		}
		lanes = append(lanes, l)
	}
	defer func() {
		for _, l := range lanes {
			l.w.stop()
			live.stop(l.c)
		}
	}()
	if len(lanes) == 0 {
		return
	}
	stop := make(chan struct{})
	defer close(stop)
	go lanes[0].w.printProgress(r.o.interval, stop)
	for round := 1; round <= rounds; round++ {
		log.Printf("== cluster fan-out, round %d of %d: %d clusters side by side", round, rounds, len(lanes))
		for _, row := range r.clusterRound(lanes, round) {
			log.Printf("%s, round %d: %s; per node: clients %v, mean fan-out %v ms", row.Server, round, summary(row), row.NodeConns, row.NodeFanoutMs)
			r.rows = append(r.rows, row)
		}
	}
}

// clusterRound runs one measured phase on every lane, their publications
// alternating, and returns the rows of the lanes it could measure.
func (r *benchRun) clusterRound(lanes []*clusterLane, round int) []Row {
	rows := make([]Row, len(lanes))
	runs := make([]*fanoutRun, len(lanes))
	cpu0 := make([]float64, len(lanes))
	m0 := make([][]fanoutSum, len(lanes))
	for i, l := range lanes {
		rows[i] = Row{
			Server: l.label, Scenario: "fanout", Transport: "ws", Round: round,
			Conns: l.conns, Workers: l.workers, NodeConns: l.perNode,
		}
		f, err := r.startFanout(&rows[i], l.w, l.t())
		if err != nil {
			r.skip("%s, round %d: %v", l.label, round, err)
			continue
		}
		runs[i], cpu0[i], m0[i] = f, clusterCPU(l.c), nodeFanoutSums(l.c)
	}
	for range r.o.pubs {
		for _, f := range runs {
			if f != nil {
				f.single()
			}
		}
	}
	// Each node's own fan-out time over the singles: from the time the
	// publication was numbered (on one node: published; in a cluster: the
	// history stream stored it) to the node's last write, per loop.
	for i, l := range lanes {
		if runs[i] != nil {
			rows[i].NodeFanoutMs = meanFanoutMs(m0[i], nodeFanoutSums(l.c))
		}
	}
	for range r.o.bursts {
		for _, f := range runs {
			if f != nil {
				f.burst()
			}
		}
	}
	var out []Row
	for i, f := range runs {
		if f == nil {
			continue
		}
		if err := f.finish(); err != nil {
			r.skip("%s, round %d: %v", lanes[i].label, round, err)
			continue
		}
		rows[i].ServerCPU = clusterCPU(lanes[i].c) - cpu0[i]
		out = append(out, rows[i])
	}
	return out
}

// fanoutSum is a node's fan-out latency histogram's sum (seconds) and
// count (one per loop and publication that reached it).
type fanoutSum struct {
	sum, count float64
	ok         bool
}

// nodeFanoutSums reads every node's c1m_fanout_latency_seconds sum and
// count from its /metrics.
func nodeFanoutSums(c *cluster) []fanoutSum {
	out := make([]fanoutSum, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = readFanoutSum(n.api)
	}
	return out
}

func readFanoutSum(api string) fanoutSum {
	cl := http.Client{Timeout: statsTimeout}
	resp, err := cl.Get("http://" + api + "/metrics")
	if err != nil {
		return fanoutSum{}
	}
	defer resp.Body.Close()
	return parseFanoutSum(bufio.NewScanner(resp.Body))
}

// parseFanoutSum finds the fan-out histogram's sum and count in a
// Prometheus text exposition.
func parseFanoutSum(sc *bufio.Scanner) fanoutSum {
	var s fanoutSum
	var got int
	for sc.Scan() {
		// name{labels} value: a cluster node labels its series with node.
		line := sc.Text()
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name, val := line[:sp], line[sp+1:]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "c1m_fanout_latency_seconds_sum":
			s.sum = v
			got++
		case "c1m_fanout_latency_seconds_count":
			s.count = v
			got++
		}
	}
	s.ok = got == 2
	return s
}

// meanFanoutMs is each node's mean fan-out time (ms) between two
// readings; -1 for a node that could not be read or had none.
func meanFanoutMs(before, after []fanoutSum) []float64 {
	out := make([]float64, len(after))
	for i := range after {
		out[i] = -1
		if i < len(before) && before[i].ok && after[i].ok {
			if dc := after[i].count - before[i].count; dc > 0 {
				out[i] = 1e3 * (after[i].sum - before[i].sum) / dc
			}
		}
	}
	return out
}
