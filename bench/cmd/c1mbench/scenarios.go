package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// Bounds on the driver's waits for its workers: none of them can hang a
// run. Handshakes and deliveries have their own flags.
const (
	startTimeout  = 30 * time.Second // workers reset their counters
	reportTimeout = 60 * time.Second // workers send their reports
	statsTimeout  = 10 * time.Second // a server's stats endpoint answers
	settle        = time.Second      // hold: handshake garbage and buffers settle before the memory reading
)

// workerLinesPerInterval: workers report this many times per driver
// progress line, so each line shows figures at most a fraction old.
const workerLinesPerInterval = 4

// target is a running server as the scenarios see it.
type target struct {
	name, note string
	ws, api    string
	endpoints  map[string]endpoint
	topic      string
	publish    publishing
	history    string
	stats      string
	pid        int // 0: not a child process (tests): no RSS or CPU figures
}

// scenarioKind splits a scenario name into what the workers do (hold,
// fanout, echo, churn, history) and the transport ("ws", "sse", "poll",
// "sio").
func scenarioKind(name string) (kind, transport string) {
	for _, tr := range []string{"sse", "poll", "sio"} {
		if k, ok := strings.CutPrefix(name, tr+"-"); ok {
			return k, tr
		}
	}
	return name, "ws"
}

// scenario starts the server, runs one scenario with n connections and
// records a row.
func (r *benchRun) scenario(s server, bin, scenario string, n int) {
	p, err := start(s, bin)
	if err != nil {
		r.skip("%s %s: %v", s.name, scenario, err)
		return
	}
	defer p.stop()
	row, err := r.measure(targetOf(s, p), scenario, n)
	if err != nil {
		r.skip("%s %s: %v", s.name, scenario, err)
		return
	}
	log.Printf("%s %s: %s", s.name, scenario, summary(row))
	r.rows = append(r.rows, row)
}

// targetOf is server s running as process p.
func targetOf(s server, p *process) target {
	return target{
		name: s.name, note: s.note, ws: p.ws, api: p.api, endpoints: s.endpoints, topic: s.topic,
		publish: s.publish, history: s.history, stats: s.stats, pid: p.cmd.Process.Pid,
	}
}

// measure runs one scenario against a running server.
func (r *benchRun) measure(t target, scenario string, n int) (Row, error) {
	kind, transport := scenarioKind(scenario)
	row := Row{Server: t.name, Scenario: scenario, Transport: transport, Note: t.note}
	if kind == "history" {
		return row, r.history(&row, t)
	}
	heap0, rss0, kern0, cpu0 := statsOf(t), rssBytes(t.pid), kernelSocketBytes(), processCPU(t.pid)
	t0 := time.Now()
	w, stop, err := r.connect(&row, t, n)
	if err != nil {
		return row, err
	}
	defer stop()
	connectTime := time.Since(t0)
	p := w.total()

	switch kind {
	case "hold":
		row.ConnectPerSec = float64(p.Conns) / connectTime.Seconds()
		row.Elapsed, row.GenCPU = connectTime.Seconds(), p.CPU
		row.GenCPUCores = row.GenCPU / row.Elapsed
		row.ServerCPU = processCPU(t.pid) - cpu0
		time.Sleep(settle)
		heap1, rss1, kern1 := statsOf(t), rssBytes(t.pid), kernelSocketBytes()
		if now := w.total(); now.Conns < p.Conns || !alive(t.pid) {
			return row, fmt.Errorf("%d of %d clients still open at the memory reading, server running: %v (last error: %s)",
				now.Conns, p.Conns, alive(t.pid), now.LastErr)
		}
		row.HeapBefore, row.HeapAfter, row.RSSBefore, row.RSSAfter = heap0, heap1, rss0, rss1
		if heap0 > 0 && heap1 > 0 {
			row.HeapPerConn = float64(heap1-heap0) / float64(p.Conns)
		}
		if rss0 > 0 && rss1 > 0 {
			row.RSSPerConn = float64(rss1-rss0) / float64(p.Conns)
		}
		if kern0 > 0 && kern1 > 0 {
			// Both ends of each connection live on this machine.
			row.KernelPerSocket = float64(kern1-kern0) / float64(2*p.Conns)
		}
	case "fanout":
		if err := r.fanout(&row, w, t); err != nil {
			return row, err
		}
	case "echo", "churn":
		if err := r.timed(&row, w, t); err != nil {
			return row, err
		}
	}
	return row, r.ended(&row, w, t, p)
}

// connect starts the workers of row's scenario against t and waits until
// n clients are connected (for a fan-out over raw WebSocket, also until
// the server counts them). stop ends the workers.
func (r *benchRun) connect(row *Row, t target, n int) (w *workerSet, stop func(), err error) {
	kind, transport := scenarioKind(row.Scenario)
	ep, ok := t.endpoints[transport]
	if !ok {
		return nil, nil, fmt.Errorf("no %s endpoint", transport)
	}
	minWorkers := 1
	if kind == "fanout" || kind == "echo" {
		minWorkers = r.o.workers // the generator receives: more than one thread
	}
	counts := split(n, r.capacity, minWorkers)
	sources := loadgen.SourcesFor(r.capacity, r.o.connsPerSource)
	w, err = startWorkers(fmt.Sprintf("%s %s", t.name, row.Scenario), workerOptions{
		scenario: kind, addr: t.ws, path: ep.path, transport: transport, dialect: ep.dialect, pollWait: r.o.pollWait, join: ep.join, joinAck: ep.joinAck,
		size: r.o.size, inflight: defaultInflight, interval: r.o.interval / workerLinesPerInterval, handshake: r.o.handshakeTimeout,
	}, counts, sources)
	if err != nil {
		return nil, nil, fmt.Errorf("workers: %w", err)
	}
	stopPrint := make(chan struct{})
	stop = func() {
		close(stopPrint)
		w.stop()
	}
	go w.printProgress(r.o.interval, stopPrint)

	ready := w.waitReady(r.o.connectTimeout)
	p := w.total()
	row.Conns, row.Workers, row.Errors, row.HandshakeTimeout = p.Conns, len(counts), p.Errors, p.Timeouts
	switch {
	case !ready:
		err = fmt.Errorf("%d of %d clients connected within %v (last error: %s)", p.Conns, n, r.o.connectTimeout, p.LastErr)
	case p.Conns == 0:
		err = fmt.Errorf("no connection opened (last error: %s)", p.LastErr)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	// Where the protocol does not say when a client is subscribed (raw
	// WebSocket: some peers join the topic after the upgrade returns),
	// wait until the server counts every client, or the first
	// publication would miss the last ones.
	if kind == "fanout" && ep.dialect == dialectRaw {
		if got, ok := waitServerConns(t, row.Conns, r.o.connectTimeout); !ok {
			log.Printf("%s: the server counts %d of %d clients; publishing anyway", t.name, got, row.Conns)
		}
	}
	return w, stop, nil
}

// ended completes row once its scenario ran: the workers' final error
// counts, and an error if the server died; p is the workers' progress when
// every client had connected.
func (r *benchRun) ended(row *Row, w *workerSet, t target, p progress) error {
	end := w.total()
	row.Errors, row.HandshakeTimeout = end.Errors, end.Timeouts
	if !alive(t.pid) {
		return fmt.Errorf("the server exited during the run (%d clients had connected, %d errors; last: %s)", p.Conns, end.Errors, end.LastErr)
	}
	return nil
}

// fanout publishes singles, each waited for until every client has it (or
// -deliver-timeout), then bursts, each waited for the same way; then it
// collects every worker's per-client and per-publication counts.
func (r *benchRun) fanout(row *Row, w *workerSet, t target) error {
	f, err := r.startFanout(row, w, t)
	if err != nil {
		return err
	}
	for range r.o.pubs {
		f.single()
	}
	for range r.o.bursts {
		f.burst()
	}
	return f.finish()
}

// timed runs echo or churn for -duration and reads the workers' counts.
func (r *benchRun) timed(row *Row, w *workerSet, t target) error {
	if !w.start(startTimeout) {
		return fmt.Errorf("workers did not start within %v", startTimeout)
	}
	cpu0 := processCPU(t.pid)
	time.Sleep(r.o.duration) // the scenario runs; progress lines go on
	w.send("stop")
	reps := w.report(0, reportTimeout)
	row.ServerCPU = processCPU(t.pid) - cpu0
	if len(reps) < len(w.procs) {
		return fmt.Errorf("%d of %d workers reported", len(reps), len(w.procs))
	}
	var rate float64
	for _, rep := range reps {
		if rep.Elapsed > 0 {
			rate += float64(rep.Ops) / rep.Elapsed // each worker over its own window
		}
		row.GenCPU += rep.CPU
		row.Elapsed = max(row.Elapsed, rep.Elapsed)
	}
	if row.Elapsed > 0 {
		row.GenCPUCores = row.GenCPU / row.Elapsed
	}
	if kind, _ := scenarioKind(row.Scenario); kind == "echo" {
		row.RoundTripsPerSec = rate
		row.hist = merge(reps, "echo")
		row.P50, row.P99, row.P999 = percentiles(row.hist)
	} else {
		row.HandshakesPerSec = rate
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func merge(reps []*workerReport, name string) *hdrhistogram.Histogram {
	h := newHist()
	for _, rep := range reps {
		if s := rep.Hists[name]; s != nil {
			h.Merge(hdrhistogram.Import(s))
		}
	}
	return h
}

func percentiles(h *hdrhistogram.Histogram) (p50, p99, p999 float64) {
	if h.TotalCount() == 0 {
		return 0, 0, 0
	}
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	return ms(50), ms(99), ms(99.9)
}

// statsPoll is how often waitServerConns asks the server.
const statsPoll = 20 * time.Millisecond

// waitServerConns waits until the server's stats count at least n
// connections (every peer counts a connection once it is subscribed), or
// timeout; a server without stats passes at once.
func waitServerConns(t target, n int, timeout time.Duration) (int64, bool) {
	if t.stats == "" {
		return 0, true
	}
	deadline := time.Now().Add(timeout)
	for {
		st, err := serverStats(t, false)
		if err == nil && st.Connections >= int64(n) {
			return st.Connections, true
		}
		if time.Now().After(deadline) {
			return st.Connections, false
		}
		time.Sleep(statsPoll)
	}
}

// stats is what the bench reads from a server's stats endpoint.
type stats struct {
	Connections int64 `json:"connections"`
	HeapInuse   int64 `json:"heap_inuse_bytes"`
	// History is c1m's topic history, where the server reports it.
	History *struct {
		Entries int64 `json:"entries"`
		Bytes   int64 `json:"bytes"`
	} `json:"history"`
}

// pprofHeapInuse is the line of a text heap profile (debug=1) with the
// heap in use, from runtime.MemStats.
var pprofHeapInuse = []byte("# HeapInuse = ")

// serverStats reads a server's stats endpoint; gc asks it to collect
// garbage first (the path's ?gc=1, or gc=1 among its query).
func serverStats(t target, gc bool) (stats, error) {
	var st stats
	path := t.stats
	if !gc {
		path = strings.Replace(strings.Replace(path, "?gc=1", "", 1), "&gc=1", "", 1)
	}
	c := http.Client{Timeout: statsTimeout}
	resp, err := c.Get("http://" + t.api + path)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", path, resp.Status)
	}
	if _, line, ok := bytes.Cut(body, pprofHeapInuse); ok {
		line, _, _ = bytes.Cut(line, []byte("\n"))
		st.HeapInuse, err = strconv.ParseInt(string(line), 10, 64)
		return st, err
	}
	err = json.Unmarshal(body, &st)
	return st, err
}

// statsOf reads a server's heap through its stats endpoint (0 when it has
// none or does not answer).
func statsOf(t target) (heap int64) {
	if t.stats == "" {
		return 0
	}
	st, _ := serverStats(t, true)
	return st.HeapInuse
}

func summary(r Row) string {
	switch kind, _ := scenarioKind(r.Scenario); kind {
	case "hold":
		return fmt.Sprintf("conns=%d workers=%d heap/conn=%.0fB rss/conn=%.0fB kernel/socket=%.0fB (server heap %.1f→%.1f MiB, rss %.1f→%.1f MiB) connects/s=%.0f errors=%d generator cpu=%.2fs",
			r.Conns, r.Workers, r.HeapPerConn, r.RSSPerConn, r.KernelPerSocket,
			mib(r.HeapBefore), mib(r.HeapAfter), mib(r.RSSBefore), mib(r.RSSAfter), r.ConnectPerSec, r.Errors, r.GenCPU)
	case "fanout":
		return fmt.Sprintf("conns=%d workers=%d single=%.0f/s (last delivery p50 %.1fms max %.1fms) burst=%.0f/s latency p50=%.2fms p99=%.2fms p999=%.2fms received %d/%d lossy clients %d missing %d dups %d offset gaps %d resets %d timeouts %d generator %.2f cores server cpu %.2fs",
			r.Conns, r.Workers, r.DeliveriesPerSec, r.LastP50, r.LastMax, r.BurstPerSec, r.P50, r.P99, r.P999, r.Received, r.Expected,
			r.LossyClients, r.Missing, r.Duplicates, r.OffsetGaps, r.Resets, r.DeliveryTimeouts, r.GenCPUCores, r.ServerCPU)
	case "echo":
		return fmt.Sprintf("clients=%d workers=%d round trips/s=%.0f p50=%.2fms p99=%.2fms p999=%.2fms generator %.2f cores",
			r.Conns, r.Workers, r.RoundTripsPerSec, r.P50, r.P99, r.P999, r.GenCPUCores)
	case "history":
		return fmt.Sprintf("publications=%d entries=%d (from stats: %v) heap/entry=%.0fB rss/entry=%.0fB stats bytes/entry=%.0fB (server heap %.1f→%.1f MiB) publishes/s=%.0f errors=%d",
			r.Publications, r.HistoryEntries, r.EntriesFromStats, r.HeapPerEntry, r.RSSPerEntry, r.StatsBytesPerEntry,
			mib(r.HeapBefore), mib(r.HeapAfter), r.PublishPerSec, r.PublishErrors)
	default:
		return fmt.Sprintf("clients=%d handshakes/s=%.0f errors=%d (timeouts %d)", r.Conns, r.HandshakesPerSec, r.Errors, r.HandshakeTimeout)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
