package main

// The cluster benches ("c1mbench cluster"), on one host:
//
//   - fan-out: -n subscribers of one topic on one node without NATS, on one
//     node over NATS and on -fanout-nodes nodes over NATS (one cluster per
//     -fanout-loops entry), all at once, their publications alternating
//     (clusterfan.go), -rounds times; deliveries per second and latency as
//     the fanout scenario measures them, publications through node 0's
//     API.
//   - bus cost: NATS messages and bytes per publication (the NATS server's
//     /varz before and after) as the nodes grow (-bus-nodes, 1,3,10), each
//     node with subscribers of the topic; and for a topic no client
//     subscribes to.

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

type clusterBenchOptions struct {
	n, fanoutNodes, busN, busPubs int
	loops, rounds                 int
	fanoutLoops                   string
	natsOne                       bool
	pubs, bursts, burst, size     int
	busNodes, out, c1mBin         string
	deliverTimeout, timeout       time.Duration
	interval                      time.Duration
}

func parseClusterBench(args []string) (clusterBenchOptions, error) {
	var o clusterBenchOptions
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 19000, "fan-out: subscribers")
	fs.IntVar(&o.fanoutNodes, "fanout-nodes", 3, "fan-out: nodes of the cluster row")
	fs.IntVar(&o.loops, "loops", 0, "event loops per node (0: c1m's default, one per CPU)")
	fs.StringVar(&o.fanoutLoops, "fanout-loops", "0,1", "fan-out: event loops per node of the -fanout-nodes clusters, one cluster per entry (0: c1m's default; empty: -loops)")
	fs.BoolVar(&o.natsOne, "nats-one", true, "fan-out: also one node over NATS")
	fs.IntVar(&o.rounds, "rounds", 3, "fan-out: measured rounds on the same clients, every cluster's publications alternating")
	fs.IntVar(&o.pubs, "pubs", 10, "fan-out: single publications")
	fs.IntVar(&o.bursts, "bursts", 3, "fan-out: bursts")
	fs.IntVar(&o.burst, "burst", 20, "fan-out: publications per burst")
	fs.IntVar(&o.size, "size", 64, "publication bytes")
	fs.StringVar(&o.busNodes, "bus-nodes", "1,3,10", "bus cost: node counts (empty: no bus cost)")
	fs.IntVar(&o.busN, "bus-n", 1000, "bus cost: subscribers, spread over the nodes")
	fs.IntVar(&o.busPubs, "bus-pubs", 100, "bus cost: publications per node count")
	fs.DurationVar(&o.deliverTimeout, "deliver-timeout", 10*time.Second, "bound on one publication (or burst) reaching every client")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "bound on the whole run")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "progress line interval (stderr)")
	fs.StringVar(&o.c1mBin, "c1m", "", "a c1m binary to run (empty: build ./cmd/c1m of this checkout)")
	fs.StringVar(&o.out, "out", "results", "folder for the JSON and the plots")
	return o, fs.Parse(args)
}

// busRow is the bus cost at one node count.
type busRow struct {
	Nodes         int     `json:"nodes"`
	Subscribed    bool    `json:"subscribed"` // the topic has clients (on every node)
	Conns         int     `json:"conns"`
	Publications  int     `json:"publications"`
	MsgsIn        float64 `json:"nats_msgs_in_per_pub"`
	MsgsOut       float64 `json:"nats_msgs_out_per_pub"`
	BytesIn       float64 `json:"nats_bytes_in_per_pub"`
	BytesOut      float64 `json:"nats_bytes_out_per_pub"`
	Received      int64   `json:"received"`
	Expected      int64   `json:"expected"`
	PublishErrors int     `json:"publish_errors"`
}

// runClusterBench is the "cluster" subcommand.
func runClusterBench(args []string) error {
	o, err := parseClusterBench(args)
	if err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "c1mbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	c1m := o.c1mBin
	if c1m == "" {
		c1m = filepath.Join(bin, "c1m")
		if err := goBuild(repo(), "./cmd/c1m")(c1m); err != nil {
			return err
		}
	}
	if _, err := buildNATS(); err != nil {
		return err
	}
	// live is what a signal or the timeout kills.
	live := &liveClusters{}
	kill := func(why string, code int) {
		log.Printf("cluster: %s: killing every process of the run", why)
		live.stopAll()
		os.Exit(code)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			kill("interrupted", 130)
		}
	}()
	watchdog := time.AfterFunc(o.timeout, func() { kill("-timeout passed", 1) })
	defer watchdog.Stop()

	r := &benchRun{
		o: options{
			pubs: o.pubs, bursts: o.bursts, burst: o.burst, size: o.size, deliverTimeout: o.deliverTimeout,
			interval: o.interval, workers: runtime.NumCPU(), connsPerSource: loadgen.ConnsPerSource,
		},
		capacity: workerCapacity(0), started: time.Now(),
	}
	specs, err := fanoutSpecs(o)
	if err != nil {
		return err
	}
	if o.n > 0 && o.rounds > 0 {
		r.clusterFanouts(c1m, specs, o.n, o.rounds, live)
	}
	run := func(label string, co clusterOptions, body func(*cluster) error) {
		c, err := startCluster(c1m, co)
		if err != nil {
			r.skip("%s: %v", label, err)
			return
		}
		live.add(c)
		defer live.stop(c)
		if err := body(c); err != nil {
			r.skip("%s: %v", label, err)
		}
	}
	var bus []busRow
	for _, f := range strings.Split(o.busNodes, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		nodes, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || nodes <= 0 {
			return fmt.Errorf("-bus-nodes: %q", f)
		}
		label := fmt.Sprintf("bus cost, %d nodes", nodes)
		run(label, clusterOptions{nodes: nodes, nats: true, loops: o.loops}, func(c *cluster) error {
			rows, err := r.busCost(c, o.busN, o.busPubs)
			bus = append(bus, rows...)
			for _, b := range rows {
				log.Printf("%s (subscribed %v): %.1f msgs in, %.1f msgs out, %.0f B in, %.0f B out per publication; received %d/%d",
					label, b.Subscribed, b.MsgsIn, b.MsgsOut, b.BytesIn, b.BytesOut, b.Received, b.Expected)
			}
			return err
		})
	}
	return r.finishCluster(o, bus)
}

// clusterCPU is the CPU seconds of every node and of NATS.
func clusterCPU(c *cluster) float64 {
	var t float64
	for _, p := range c.pids() {
		t += processCPU(p)
	}
	if c.natsCmd != nil {
		t += processCPU(c.natsCmd.Process.Pid)
	}
	return t
}

// varz is what the bus cost reads from NATS's monitoring endpoint.
type varz struct {
	InMsgs   int64 `json:"in_msgs"`
	OutMsgs  int64 `json:"out_msgs"`
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
}

func readVarz(mon string) (varz, error) {
	var v varz
	cl := http.Client{Timeout: statsTimeout}
	resp, err := cl.Get("http://" + mon + "/varz")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// busCost connects subscribers to the cluster, then publishes pubs
// publications to their topic, each waited for, and pubs to a topic
// nobody subscribes to, reading NATS's counters around each series.
func (r *benchRun) busCost(c *cluster, n, pubs int) ([]busRow, error) {
	label := fmt.Sprintf("bus %d nodes", len(c.nodes))
	counts := split(n, r.capacity, 1)
	w, err := startWorkers(label, workerOptions{
		scenario: "fanout", addr: c.ws, path: "/ws?topic=t", transport: "ws", dialect: dialectRaw,
		size: r.o.size, inflight: defaultInflight, interval: r.o.interval / workerLinesPerInterval,
		handshake: loadgen.DefaultHandshakeTimeout, group: c.group,
	}, counts, loadgen.SourcesFor(r.capacity, r.o.connsPerSource))
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if !w.waitReady(time.Minute) {
		return nil, fmt.Errorf("clients did not connect in time (last error: %s)", w.total().LastErr)
	}
	conns := w.total().Conns
	per, err := waitClusterConns(c, conns, time.Minute)
	if err != nil {
		return nil, err
	}
	for i, k := range per {
		if k == 0 {
			return nil, fmt.Errorf("node %d has no subscriber: raise -bus-n", i)
		}
	}
	t := target{name: label, api: c.nodes[0].api, topic: "t", publish: publishing{path: "/api/publish?topic="}}
	v0, err := readVarz(c.natsMon)
	if err != nil {
		return nil, err
	}
	sub := busRow{Nodes: len(c.nodes), Subscribed: true, Conns: conns}
	row := Row{}
	fr := &benchRun{o: r.o}
	fr.o.pubs, fr.o.bursts = pubs, 0
	if err := fr.fanout(&row, w, t); err != nil {
		return nil, err
	}
	v1, err := readVarz(c.natsMon)
	if err != nil {
		return nil, err
	}
	sub.fill(v0, v1, row.Publications)
	sub.Received, sub.Expected, sub.PublishErrors = row.Received, row.Expected, row.PublishErrors
	// The same publications to a topic no client subscribes to: what a
	// node pays for topics it has no subscriber for.
	none := busRow{Nodes: len(c.nodes), Conns: conns, Publications: pubs}
	pub := newPublisher(t, r.o.size, r.o.deliverTimeout)
	for i := range pubs {
		if _, err := pub.post("nobody", uint64(i+1), kindSingle); err != nil {
			none.PublishErrors++
		}
	}
	time.Sleep(settle) // what NATS fans out after the API answered
	v2, err := readVarz(c.natsMon)
	if err != nil {
		return nil, err
	}
	none.fill(v1, v2, pubs)
	return []busRow{sub, none}, nil
}

func (b *busRow) fill(before, after varz, pubs int) {
	b.Publications = pubs
	if pubs == 0 {
		return
	}
	p := float64(pubs)
	b.MsgsIn, b.MsgsOut = float64(after.InMsgs-before.InMsgs)/p, float64(after.OutMsgs-before.OutMsgs)/p
	b.BytesIn, b.BytesOut = float64(after.InBytes-before.InBytes)/p, float64(after.OutBytes-before.OutBytes)/p
}
