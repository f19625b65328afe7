package main

// The C1M run ("c1mbench million"): CONNS WebSocket clients held at once by
// NODES c1m processes sharing one port over NATS, and load generator
// workers of under 20,000 descriptors each over 127.x source addresses.
// One topic, which every client subscribes to; publications through one
// node's API reach every client through NATS, counted per client.
//
//	go run ./cmd/c1mbench million -conns 1000000          # nodes: enough for the open-file limit
//	go run ./cmd/c1mbench million -conns 50000 -nodes 3   # the machinery, quickly

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

type millionOptions struct {
	conns, nodes, loops, pubs int
	size, inflight, perSource int
	ping, connectTimeout      time.Duration
	deliverTimeout, timeout   time.Duration
	interval, sample          time.Duration
	out, c1mBin               string
	nats                      bool
}

func parseMillion(args []string) (millionOptions, error) {
	var o millionOptions
	fs := flag.NewFlagSet("million", flag.ContinueOnError)
	fs.IntVar(&o.conns, "conns", 1_000_000, "WebSocket clients held at once")
	fs.IntVar(&o.nodes, "nodes", 0, "c1m nodes sharing the port (0: the fewest that the open-file limit allows)")
	fs.IntVar(&o.loops, "loops", 1, "event loops per node (-loops)")
	fs.IntVar(&o.pubs, "pubs", 3, "single publications, each waited for until every client has it")
	fs.IntVar(&o.size, "size", 64, "publication bytes")
	fs.IntVar(&o.inflight, "inflight", 256, "handshakes in progress per worker at most")
	fs.IntVar(&o.perSource, "conns-per-source", loadgen.ConnsPerSource, "connections per 127.x source address")
	fs.DurationVar(&o.ping, "ping", time.Hour, "the nodes' keepalive ping interval (-ping), longer than the run by default: at 1M the default 30s is 33k pings/s, and on this shared 2-core machine 5m closed clients whose pongs were read over 15 s late")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 20*time.Minute, "bound on connecting every client")
	fs.DurationVar(&o.deliverTimeout, "deliver-timeout", 2*time.Minute, "bound on one publication reaching every client")
	fs.DurationVar(&o.timeout, "timeout", 45*time.Minute, "bound on the whole run: past it everything is killed")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "progress line interval (stderr)")
	fs.DurationVar(&o.sample, "sample", time.Second, "interval of the connections and memory samples (the plot)")
	fs.StringVar(&o.c1mBin, "c1m", "", "a c1m binary to run (empty: build ./cmd/c1m of this checkout)")
	fs.StringVar(&o.out, "out", "results", "folder for the JSON and the plot")
	fs.BoolVar(&o.nats, "nats", true, "link the nodes over NATS (without it each node is an island: publications reach only node 0's clients, so use -pubs 0)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.conns <= 0 || o.pubs < 0 {
		return o, fmt.Errorf("-conns must be positive and -pubs not negative")
	}
	return o, nil
}

// sample is one reading of the run's connections and memory.
type sample struct {
	T         float64 `json:"t_sec"`
	Conns     int     `json:"conns"`
	ServerRSS int64   `json:"server_rss_bytes"`
	WorkerRSS int64   `json:"generator_rss_bytes"`
	NATSRSS   int64   `json:"nats_rss_bytes"`
	Slab      int64   `json:"slab_bytes"`
	MemUsed   int64   `json:"mem_used_bytes"` // MemTotal - MemAvailable
	SockMem   int64   `json:"tcp_buffer_bytes"`
	Phase     string  `json:"phase"`
}

// sampler reads the run's memory every interval until stopped.
type sampler struct {
	began time.Time
	c     *cluster

	mu      sync.Mutex // guards the fields below
	w       *workerSet
	phase   string
	samples []sample
}

func (s *sampler) setWorkers(w *workerSet) { s.mu.Lock(); s.w = w; s.mu.Unlock() }
func (s *sampler) setPhase(p string)       { s.mu.Lock(); s.phase = p; s.mu.Unlock() }

func (s *sampler) read() sample {
	s.mu.Lock()
	w, phase := s.w, s.phase
	s.mu.Unlock()
	m := meminfo()
	var slab int64
	for _, b := range slabBytes() {
		slab += b
	}
	_, sock := tcpSockstat()
	x := sample{
		T: time.Since(s.began).Seconds(), ServerRSS: totalRSS(s.c.pids()), Slab: slab,
		MemUsed: m["MemTotal"] - m["MemAvailable"], SockMem: sock, Phase: phase,
	}
	if s.c.natsCmd != nil {
		x.NATSRSS = rssBytes(s.c.natsCmd.Process.Pid)
	}
	if w != nil {
		x.Conns = w.total().Conns
		x.WorkerRSS = totalRSS(w.pids())
	}
	return x
}

func (s *sampler) run(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		x := s.read()
		s.mu.Lock()
		s.samples = append(s.samples, x)
		s.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// snapshot is the machine's memory at one moment of the run.
type snapshot struct {
	ServerRSS int64            `json:"server_rss_bytes"`
	WorkerRSS int64            `json:"generator_rss_bytes"`
	NATSRSS   int64            `json:"nats_rss_bytes"`
	Meminfo   map[string]int64 `json:"meminfo"`
	SockMem   int64            `json:"tcp_buffer_bytes"`
	slabs     map[string]int64
}

func takeSnapshot(c *cluster, w *workerSet) snapshot {
	s := snapshot{ServerRSS: totalRSS(c.pids()), Meminfo: meminfo(), slabs: slabBytes()}
	if c.natsCmd != nil {
		s.NATSRSS = rssBytes(c.natsCmd.Process.Pid)
	}
	if w != nil {
		s.WorkerRSS = totalRSS(w.pids())
	}
	_, s.SockMem = tcpSockstat()
	return s
}

// millionResult is the JSON of a run.
type millionResult struct {
	Started         string        `json:"started"`
	Options         string        `json:"options"`
	Machine         machine       `json:"machine"`
	CPUs            int           `json:"cpus"`
	Requested       int           `json:"conns_requested"`
	Conns           int           `json:"conns"`
	Nodes           int           `json:"nodes"`
	Workers         int           `json:"workers"`
	NodeConnsMin    int64         `json:"node_conns_min"`
	NodeConnsMax    int64         `json:"node_conns_max"`
	ConnectSec      float64       `json:"connect_sec"`
	ConnectsPerSec  float64       `json:"connects_per_sec"`
	Errors          int           `json:"errors"`
	Timeouts        int           `json:"handshake_timeouts"`
	Before          snapshot      `json:"before"`
	Held            snapshot      `json:"held"`
	ServerRSSDelta  int64         `json:"server_rss_growth_bytes"`
	ServerPerConn   float64       `json:"server_rss_bytes_per_conn"`
	WorkerPerConn   float64       `json:"generator_rss_bytes_per_conn"`
	SlabGrowth      []slabDelta   `json:"slab_growth"` // caches that grew by 1 MiB or more, client and server sockets together
	SlabPerSocket   float64       `json:"slab_bytes_per_socket"`
	KernelPerSocket float64       `json:"kernel_socket_bytes_per_socket"` // TCP, sock_inode_cache, filp, dentry, eventpoll: as the hold scenario
	MemUsedGrowth   int64         `json:"mem_used_growth_bytes"`
	Fanout          Row           `json:"fanout"`
	Samples         []sample      `json:"samples"`
	Notes           []string      `json:"notes"`
	Elapsed         time.Duration `json:"-"`
}

// runMillion is the "million" subcommand.
func runMillion(args []string) error {
	if len(args) == 2 && args[0] == "-replot" {
		return replotMillion(args[1])
	}
	o, err := parseMillion(args)
	if err != nil {
		return err
	}
	m := readMachine()
	capacity := workerCapacity(0)
	if o.nodes <= 0 {
		o.nodes = autoNodes(o.conns, m)
	}
	counts := split(o.conns, capacity, 1)
	p := plan{conns: o.conns, nodes: o.nodes, workers: len(counts), perSource: o.perSource}
	if err := preflight(p, m); err != nil {
		return err
	}
	sources := loadgen.SourcesFor(capacity, o.perSource)
	if len(counts)*sources > loadgen.MaxSources {
		return fmt.Errorf("%d workers × %d source addresses is over %d: raise -conns-per-source", len(counts), sources, loadgen.MaxSources)
	}
	log.Printf("million: %d clients, %d nodes, %d workers; about %s of memory planned, %s available",
		o.conns, o.nodes, len(counts), gib(p.memoryNeed()), gib(m.MemAvailable))
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
	res := &millionResult{
		Started: time.Now().UTC().Format(time.RFC3339), Options: fmt.Sprintf("%+v", o), Machine: m,
		CPUs: runtime.NumCPU(), Requested: o.conns, Nodes: o.nodes, Workers: len(counts),
	}
	res.Before = takeSnapshot(&cluster{}, nil)
	c, err := startCluster(c1m, clusterOptions{nodes: o.nodes, loops: o.loops, nats: o.nats, ping: o.ping})
	if err != nil {
		return err
	}
	// Whatever happens now, every process goes: on return, on Ctrl-C or
	// SIGTERM, and at -timeout.
	defer c.stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			log.Print("million: interrupted: killing every process of the run")
			c.stop()
			os.Exit(130)
		}
	}()
	watchdog := time.AfterFunc(o.timeout, func() {
		log.Printf("million: -timeout %v passed: killing every process of the run", o.timeout)
		c.stop()
		os.Exit(1)
	})
	defer watchdog.Stop()
	return millionRun(o, c, counts, sources, res)
}

// millionRun connects, holds, publishes and writes the results.
func millionRun(o millionOptions, c *cluster, counts []int, sources int, res *millionResult) error {
	s := &sampler{began: time.Now(), c: c, phase: "connect"}
	stopSampler := make(chan struct{})
	var samplerDone sync.WaitGroup
	samplerDone.Go(func() { s.run(o.sample, stopSampler) })
	defer func() { close(stopSampler); samplerDone.Wait() }()
	base := takeSnapshot(c, nil)
	t0 := time.Now()
	w, err := startWorkers("million", workerOptions{
		scenario: "fanout", addr: c.ws, path: "/ws?topic=t", transport: "ws", dialect: dialectRaw,
		size: o.size, inflight: o.inflight, interval: o.interval / workerLinesPerInterval,
		handshake: loadgen.DefaultHandshakeTimeout, group: c.group,
	}, counts, sources)
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	s.setWorkers(w)
	stopPrint := make(chan struct{})
	defer close(stopPrint)
	go w.printProgress(o.interval, stopPrint)
	ready := w.waitReady(o.connectTimeout)
	res.ConnectSec = time.Since(t0).Seconds()
	p := w.total()
	res.Conns, res.Errors, res.Timeouts = p.Conns, p.Errors, p.Timeouts
	res.ConnectsPerSec = float64(p.Conns) / res.ConnectSec
	if !ready || p.Conns == 0 {
		return fmt.Errorf("%d of %d clients connected within %v (last error: %s)", p.Conns, o.conns, o.connectTimeout, p.LastErr)
	}
	log.Printf("million: %d clients connected in %.1fs (%.0f/s), %d errors", p.Conns, res.ConnectSec, res.ConnectsPerSec, p.Errors)
	perNode, err := waitClusterConns(c, p.Conns, time.Minute)
	if err != nil {
		log.Printf("million: %v; going on", err)
	}
	if len(perNode) > 0 {
		res.NodeConnsMin, res.NodeConnsMax = slices.Min(perNode), slices.Max(perNode)
	}
	s.setPhase("hold")
	time.Sleep(settle)
	res.Before, res.Held = base, takeSnapshot(c, w)
	n := float64(p.Conns)
	res.ServerRSSDelta = res.Held.ServerRSS - base.ServerRSS
	res.ServerPerConn = float64(res.ServerRSSDelta) / n
	res.WorkerPerConn = float64(res.Held.WorkerRSS) / n
	res.SlabGrowth = slabGrowth(base.slabs, res.Held.slabs, 1<<20)
	var slab, sock int64
	for _, d := range slabGrowth(base.slabs, res.Held.slabs, 0) {
		slab += d.Bytes
		if socketSlabs[d.Cache] {
			sock += d.Bytes
		}
	}
	res.SlabPerSocket, res.KernelPerSocket = float64(slab)/(2*n), float64(sock)/(2*n)
	res.MemUsedGrowth = base.Meminfo["MemAvailable"] - res.Held.Meminfo["MemAvailable"]
	log.Printf("million: held %d: c1m RSS %s (%.0f B/conn), generator RSS %s, slab +%s (%.0f B/socket), memory used %+.2f GiB",
		p.Conns, gib(res.Held.ServerRSS), res.ServerPerConn, gib(res.Held.WorkerRSS), gib(slab), res.SlabPerSocket, float64(res.MemUsedGrowth)/(1<<30))

	// What the run has so far, in case the publications go wrong: the
	// final write replaces it.
	res.Notes = millionNotes(o)
	s.mu.Lock()
	res.Samples = slices.Clone(s.samples)
	s.mu.Unlock()
	if err := writeMillion(o.out, res, false); err != nil {
		log.Printf("million: %v", err)
	}
	s.setPhase("publish")
	if o.pubs > 0 {
		r := &benchRun{o: options{pubs: o.pubs, size: o.size, deliverTimeout: o.deliverTimeout}}
		t := target{name: "c1m cluster", api: c.nodes[0].api, topic: "t", publish: publishing{path: "/api/publish?topic="}}
		row := Row{Server: "c1m", Scenario: "million", Transport: "ws", Conns: p.Conns, Workers: len(counts)}
		if err := r.fanout(&row, w, t); err != nil {
			return err
		}
		row.hist = nil
		res.Fanout = row
		log.Printf("million: %s", summary(Row{Scenario: "fanout", Conns: row.Conns, Workers: row.Workers, DeliveriesPerSec: row.DeliveriesPerSec,
			LastP50: row.LastP50, LastMax: row.LastMax, P50: row.P50, P99: row.P99, P999: row.P999, Received: row.Received,
			Expected: row.Expected, LossyClients: row.LossyClients, Missing: row.Missing, Duplicates: row.Duplicates,
			OffsetGaps: row.OffsetGaps, Resets: row.Resets, DeliveryTimeouts: row.DeliveryTimeouts, GenCPUCores: row.GenCPUCores}))
	}
	end := w.total()
	res.Errors, res.Timeouts = end.Errors, end.Timeouts
	close(stopSampler)
	samplerDone.Wait()
	stopSampler = make(chan struct{}) // the deferred close finds a fresh one
	s.mu.Lock()
	res.Samples = slices.Clone(s.samples)
	s.mu.Unlock()
	return writeMillion(o.out, res, true)
}

// waitClusterConns waits until the nodes' stats count n connections
// together, and returns each node's count.
func waitClusterConns(c *cluster, n int, timeout time.Duration) ([]int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		var per []int64
		var sum int64
		for _, nd := range c.nodes {
			st, err := serverStats(target{api: nd.api, stats: "/api/stats"}, false)
			if err != nil {
				return nil, err
			}
			per = append(per, st.Connections)
			sum += st.Connections
		}
		if sum >= int64(n) {
			return per, nil
		}
		if time.Now().After(deadline) {
			return per, fmt.Errorf("the nodes count %d of %d clients after %v", sum, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func millionNotes(o millionOptions) []string {
	return []string{
		"one machine, " + fmt.Sprint(runtime.NumCPU()) + " cores, shared with other engineers' builds and tests during the run: that slows the connect rate and the deliveries, not the memory figures",
		"both ends of every connection live on this machine: slab and memory-used growth hold the client sockets too; per-socket figures divide by 2 × conns",
		"the nodes run with -ping " + o.ping.String() + " (keepalive), -compression=false, -loops " + fmt.Sprint(o.loops) + ", over NATS (JetStream in memory), all on one port with -reuse-port",
		"connect rate: clients ÷ time from starting the workers to the last handshake; each worker keeps at most -inflight handshakes in progress",
		"time to last delivery: from sending the publish request to node 0's API until the last client has the publication",
	}
}

// writeMillion writes the JSON (named after the run's start, so a later
// write replaces an earlier one) and, when plot is set, the plot.
func writeMillion(dir string, res *millionResult, plot bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	started, _ := time.Parse(time.RFC3339, res.Started)
	stamp := started.UTC().Format("20060102-150405")
	path := filepath.Join(dir, fmt.Sprintf("million-%s.json", stamp))
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Println("results:", path)
	if !plot {
		return nil
	}
	png := filepath.Join(dir, fmt.Sprintf("million-%s.png", stamp))
	if err := plotMillion(res, png); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	fmt.Println("plot:", png)
	return nil
}

// replotMillion redraws the plot of a results file (million-STAMP.json)
// beside it, running nothing: "c1mbench million -replot FILE".
func replotMillion(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res millionResult
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	png := strings.TrimSuffix(path, ".json") + ".png"
	if err := plotMillion(&res, png); err != nil {
		return err
	}
	fmt.Println("plot:", png)
	return nil
}
