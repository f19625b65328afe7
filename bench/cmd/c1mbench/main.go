// Command c1mbench measures c1m beside peer servers (WebSocket libraries,
// Node's ws, Centrifugo), in one run on one machine, with the same load
// generator (package loadgen: epoll, no goroutine per connection) and the
// same scenarios:
//
//	hold         N idle WebSocket connections: connect rate, server heap
//	             and RSS per connection, kernel memory per socket
//	sse-hold     the same with Server-Sent Events streams
//	poll-hold    the same with held long-polls (each a poll with -poll-wait)
//	fanout       N WebSocket subscribers of one topic; publications one at
//	             a time (each waited for until fully delivered) and in
//	             bursts: deliveries per second, latency of each delivery,
//	             loss, duplicates and gaps counted per client from sequence
//	             numbers (and from the server's offsets where it sends them)
//	sse-fanout   the same with SSE subscribers
//	poll-fanout  the same with long-polling clients (-poll-n, 5,000 at most
//	             by default), each re-polling with its cursor
//	sio-hold     hold with Socket.IO clients (Engine.IO v4 over WebSocket),
//	             each in one room
//	sio-fanout   fanout to those clients: publications become room events
//	echo         clients sending in a closed loop: round trips per second,
//	             latency
//	churn        connect/close storm: handshakes per second, errors
//	history      publications to many topics with history kept and no
//	             subscriber: server memory per history entry
//
// The connections are held by worker processes (this binary, "worker"
// subcommand), as many as the open-file limit requires (-per-worker forces
// smaller ones) and at least -workers for the fan-outs and echo, so the
// generator's receive side is not one thread. The driver reads all workers
// at once and prints their progress to stderr every -interval.
//
// It prints a table with each server's ratio to c1m and a transports block
// (c1m's SSE and long-polling beside its WebSocket and beside Centrifugo),
// writes a JSON file under bench/results/ and PNG plots beside it; -replot
// FILE.json redraws the plots of a results file. See bench/README.md.
//
//	go run ./cmd/c1mbench -servers c1m,gorilla -n 2000
//	go run ./cmd/c1mbench -replot results/run-20261129-212226.json
//
// Two subcommands run c1m alone, as many nodes on one port over NATS:
// "million" holds -conns clients at once (make bench-million: 1,000,000)
// and "cluster" compares the fan-out of one node and of several, and
// measures NATS's traffic per publication as nodes grow (million.go,
// clusterbench.go).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/c1mhq/c1m/bench/loadgen"
)

type options struct {
	servers, scenarios  string
	n, echoN, churnN    int
	pollN               int
	pollWait            string
	historyTopics       int
	historyPerTopic     int
	holdSteps           string
	pubs, bursts, burst int
	size                int
	duration            time.Duration
	out                 string
	perWorker, workers  int
	connsPerSource      int
	interval            time.Duration
	connectTimeout      time.Duration
	handshakeTimeout    time.Duration
	deliverTimeout      time.Duration
	interleave          bool
	c1mFlags            string
	c1mEnv              string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := runWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "million" || os.Args[1] == "cluster") {
		run := runMillion
		if os.Args[1] == "cluster" {
			run = runClusterBench
		}
		if err := run(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	var o options
	all := make([]string, 0)
	for _, s := range servers() {
		all = append(all, s.name)
	}
	fs := flag.NewFlagSet("c1mbench", flag.ExitOnError)
	declareFlags(fs, &o)
	fs.StringVar(&o.servers, "servers", strings.Join(all, ","), "servers to measure, c1m first")
	replotFile := fs.String("replot", "", "redraw the plots of a results file (run-STAMP.json) beside it, and run nothing")
	_ = fs.Parse(os.Args[1:])
	if *replotFile != "" {
		if err := replot(*replotFile); err != nil {
			log.Fatal(err)
		}
		return
	}
	c1mFlags = strings.Fields(o.c1mFlags)
	c1mEnv = strings.Fields(o.c1mEnv)
	list, err := selected(o.servers)
	if err != nil {
		log.Fatal(err)
	}
	run := newRun(o)
	for _, s := range list {
		run.server(s)
	}
	run.interleaved()
	run.finish()
}

// declareFlags declares every flag but -servers on o's fields, with its
// default.
func declareFlags(f *flag.FlagSet, o *options) {
	f.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run")
	f.IntVar(&o.n, "n", 19000, "connections for the hold and fanout scenarios, over every transport (a server process holds at most ~19.9k here)")
	f.IntVar(&o.pollN, "poll-n", 0, "long-polling clients in poll-fanout (0: -n, at most 5000)")
	f.StringVar(&o.pollWait, "poll-wait", defaultPollWait, "the wait= of held polls (poll-hold, poll-fanout), seconds, sent as given")
	f.IntVar(&o.historyTopics, "history-topics", 1000, "history: topics published to")
	f.IntVar(&o.historyPerTopic, "history-per-topic", 100, "history: publications per topic")
	f.StringVar(&o.holdSteps, "hold-steps", "", "extra connection counts for the memory-per-connection plot, e.g. 2000,8000")
	f.IntVar(&o.echoN, "echo-n", 1000, "clients in the echo scenario")
	f.IntVar(&o.churnN, "churn-n", 200, "concurrent clients in the churn scenario")
	f.IntVar(&o.pubs, "pubs", 10, "fanout: single publications, each waited for until delivered to every client")
	f.IntVar(&o.bursts, "bursts", 3, "fanout: bursts")
	f.IntVar(&o.burst, "burst", 20, "fanout: publications per burst")
	f.IntVar(&o.size, "size", 64, "publication bytes (at least 33: sequence number, send time, kind, as text)")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "echo and churn duration")
	f.StringVar(&o.out, "out", "results", "folder for the JSON and plots")
	f.IntVar(&o.perWorker, "per-worker", 0, "connections per worker process at most (0: the open-file limit minus a margin)")
	f.IntVar(&o.workers, "workers", runtime.NumCPU(), "worker processes at least, for fanout and echo")
	f.IntVar(&o.connsPerSource, "conns-per-source", loadgen.ConnsPerSource, "connections per 127.x source address")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "progress line interval (stderr)")
	f.DurationVar(&o.connectTimeout, "connect-timeout", 3*time.Minute, "bound on connecting all of a scenario's clients")
	f.DurationVar(&o.handshakeTimeout, "handshake-timeout", loadgen.DefaultHandshakeTimeout, "bound on one connection's connect + handshake")
	f.DurationVar(&o.deliverTimeout, "deliver-timeout", 10*time.Second, "fanout: bound on waiting for one publication (or burst) to reach every client")
	f.StringVar(&o.c1mEnv, "c1m-env", "", "more environment for the c1m process, space-separated KEY=VALUE, e.g. \"GOMAXPROCS=4\"")
	f.StringVar(&o.c1mFlags, "c1m-flags", "", "more flags for the c1m binary, space-separated, e.g. \"-nats nats://127.0.0.1:4222 -nats-memory\" to measure c1m through NATS")
	f.BoolVar(&o.interleave, "interleave", false, "fan-outs: run the servers side by side and alternate their publications, so that on a shared machine their figures come from the same seconds")
}

func selected(names string) ([]server, error) {
	var out []server
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(servers(), func(s server) bool { return s.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown server %q", name)
		}
		out = append(out, servers()[i])
	}
	return out, nil
}

// Row is one server and scenario in the results.
type Row struct {
	Server          string  `json:"server"`
	Scenario        string  `json:"scenario"`
	Transport       string  `json:"transport"` // ws, sse, poll
	Conns           int     `json:"conns"`
	Workers         int     `json:"workers"`
	HeapPerConn     float64 `json:"heap_bytes_per_conn"`
	RSSPerConn      float64 `json:"rss_bytes_per_conn"`
	KernelPerSocket float64 `json:"kernel_bytes_per_socket,omitempty"`
	// Hold: the server's whole heap and RSS before the clients connected
	// and with them (after a forced GC), for base + per-connection
	// arithmetic.
	HeapBefore    int64   `json:"server_heap_bytes_before,omitempty"`
	HeapAfter     int64   `json:"server_heap_bytes,omitempty"`
	RSSBefore     int64   `json:"server_rss_bytes_before,omitempty"`
	RSSAfter      int64   `json:"server_rss_bytes,omitempty"`
	ConnectPerSec float64 `json:"connects_per_sec,omitempty"`
	// Fan-out: DeliveriesPerSec is the median over single publications of
	// (deliveries that arrived) / (publish to last delivery); BurstPerSec
	// the same over bursts. P50..P999 are the latencies of the single
	// publications' deliveries (publish to arrival, each delivery);
	// Burst* those of the bursts' deliveries.
	DeliveriesPerSec float64   `json:"deliveries_per_sec"`
	BurstPerSec      float64   `json:"burst_deliveries_per_sec,omitempty"`
	LastP50          float64   `json:"last_delivery_p50_ms,omitempty"`
	LastMax          float64   `json:"last_delivery_max_ms,omitempty"`
	SingleLast       []float64 `json:"single_last_delivery_ms,omitempty"` // publish to last delivery, each single in order
	LatencyCDF       []float64 `json:"latency_cdf_ms,omitempty"`          // single publications' delivery latency at percentiles 1..100 (the latency plot)
	P50              float64   `json:"p50_ms"`
	P99              float64   `json:"p99_ms"`
	P999             float64   `json:"p999_ms"`
	BurstP50         float64   `json:"burst_p50_ms,omitempty"`
	BurstP99         float64   `json:"burst_p99_ms,omitempty"`
	BurstP999        float64   `json:"burst_p999_ms,omitempty"`
	Publications     int       `json:"publications,omitempty"`
	Expected         int64     `json:"expected"`
	Received         int64     `json:"received"`
	LossyClients     int       `json:"lossy_clients"`
	Disconnected     int       `json:"disconnected_clients"` // open at the first publication, gone at the report
	Missing          int64     `json:"missing"`
	Duplicates       int64     `json:"duplicates"`
	Reordered        int64     `json:"reordered"`
	OffsetGaps       int64     `json:"offset_gaps"` // offsets a client skipped (servers that number publications)
	OffsetBack       int64     `json:"offset_back"` // offsets not above a client's previous one
	Resets           int64     `json:"resets"`      // positions the server announced lost
	Undecoded        int64     `json:"undecoded"`   // messages without a readable payload
	DeliveryTimeouts int       `json:"delivery_timeouts"`
	PublishErrors    int       `json:"publish_errors"`
	// History: memory per kept publication.
	HistoryEntries     int64   `json:"history_entries,omitempty"`
	EntriesFromStats   bool    `json:"history_entries_from_stats,omitempty"` // the server's stats counted them
	HistoryBytes       int64   `json:"history_bytes,omitempty"`              // the server's own count, where it has one
	StatsBytesPerEntry float64 `json:"history_stats_bytes_per_entry,omitempty"`
	HeapPerEntry       float64 `json:"heap_bytes_per_entry,omitempty"`
	RSSPerEntry        float64 `json:"rss_bytes_per_entry,omitempty"`
	PublishPerSec      float64 `json:"publishes_per_sec,omitempty"`
	RoundTripsPerSec   float64 `json:"round_trips_per_sec,omitempty"`
	HandshakesPerSec   float64 `json:"handshakes_per_sec,omitempty"`
	Errors             int     `json:"errors"`
	HandshakeTimeout   int     `json:"handshake_timeouts"`
	// Generator and server CPU over the measured phase (the connect phase
	// for hold): when GenCPUCores nears the worker count, the generator,
	// not the server, sets the pace.
	Elapsed     float64 `json:"elapsed_sec"`
	GenCPU      float64 `json:"generator_cpu_sec"`
	GenCPUCores float64 `json:"generator_cpu_cores"`
	ServerCPU   float64 `json:"server_cpu_sec"`
	Note        string  `json:"note,omitempty"`
	// Cluster fan-out (c1mbench cluster): the round of the measured phase,
	// the clients each node counted, and each node's mean fan-out time
	// over the single publications (per loop, from the publication's
	// numbering to the loop's last write; -1: not read).
	Round        int       `json:"round,omitempty"`
	NodeConns    []int64   `json:"node_conns,omitempty"`
	NodeFanoutMs []float64 `json:"node_fanout_mean_ms,omitempty"`
	hist         *hdrhistogram.Histogram
}

type benchRun struct {
	o        options
	bin      string
	capacity int // connections per worker process
	rows     []Row
	skipped  []string // servers or scenarios without a row, and why
	started  time.Time
	held     map[string][]sideBySide // -interleave: the fan-outs to run side by side, by scenario
}

func newRun(o options) *benchRun {
	bin, err := os.MkdirTemp("", "c1mbench")
	if err != nil {
		log.Fatal(err)
	}
	return &benchRun{o: o, bin: bin, started: time.Now(), capacity: workerCapacity(o.perWorker)}
}

// workerCapacity is how many connections one worker process may hold: its
// RLIMIT_NOFILE (workers inherit the driver's, raised to the hard limit)
// minus fileMargin, or less when forced.
func workerCapacity(forced int) int {
	c := int(raiseFileLimit()) - fileMargin
	if forced > 0 {
		c = min(c, forced)
	}
	return max(c, 1)
}

func (r *benchRun) has(scenario string) bool {
	return slices.Contains(strings.Split(r.o.scenarios, ","), scenario)
}

func (r *benchRun) skip(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Print(msg)
	r.skipped = append(r.skipped, msg)
}

// allScenarios is every scenario, in the order each server runs them.
var allScenarios = []string{"hold", "sse-hold", "poll-hold", "fanout", "sse-fanout", "poll-fanout", "sio-hold", "sio-fanout", "echo", "churn", "history"}

// defaultPollN caps poll-fanout's clients unless -poll-n is given.
const defaultPollN = 5000

// server runs every scenario against one server.
func (r *benchRun) server(s server) {
	log.Printf("== %s", s.name)
	bin := filepath.Join(r.bin, s.name)
	if err := s.build(bin); err != nil {
		r.skip("%s: no rows, build failed: %v", s.name, err)
		return
	}
	// Scenarios without a row, by reason: one line each.
	var reasons []string
	without := map[string][]string{}
	skip := func(sc, reason string) {
		if without[reason] == nil {
			reasons = append(reasons, reason)
		}
		without[reason] = append(without[reason], sc)
	}
	for _, sc := range allScenarios {
		if !r.has(sc) {
			continue
		}
		kind, transport := scenarioKind(sc)
		_, hasEndpoint := s.endpoints[transport]
		switch {
		case s.name == "gnetfloor" && kind != "hold":
			skip(sc, "hold rows only: it keeps no state to publish to, echo or close with")
			continue
		case s.name == "ceiling" && (kind == "echo" || kind == "churn"):
			skip(sc, "it never reads after the handshake (no frame parsing, no close detection); it is a fan-out yardstick")
			continue
		case s.name == "centrifugo" && (kind == "echo" || kind == "churn"):
			skip(sc, "its clients connect and subscribe by command and it does not echo: not comparable")
			continue
		case kind == "history" && s.history == "":
			skip(sc, "it keeps no history")
			continue
		case kind != "history" && !hasEndpoint:
			skip(sc, "no "+transport+" transport")
			continue
		case kind == "fanout" && s.publish.path == "":
			skip(sc, "no publish endpoint")
			continue
		}
		switch kind {
		case "hold":
			n := r.o.n
			if transport == "ws" {
				for _, step := range r.holdSteps() {
					r.scenario(s, bin, sc, step)
				}
			}
			r.scenario(s, bin, sc, n)
		case "fanout":
			n := r.o.n
			if transport == "poll" {
				n = r.pollClients()
			}
			if r.o.interleave {
				if r.held == nil {
					r.held = map[string][]sideBySide{}
				}
				r.held[sc] = append(r.held[sc], sideBySide{s, n})
				continue
			}
			r.scenario(s, bin, sc, n)
		case "echo":
			e, ebin := echoServer(s), bin
			if s.name == "c1m" { // examples/echo, another binary
				ebin = bin + "-echo"
				if err := e.build(ebin); err != nil {
					r.skip("%s echo: build failed: %v", s.name, err)
					continue
				}
			}
			r.scenario(e, ebin, sc, r.o.echoN)
		case "churn":
			r.scenario(s, bin, sc, r.o.churnN)
		case "history":
			r.scenario(s, bin, sc, 0)
		}
	}
	for _, reason := range reasons {
		r.skip("%s %s: %s", s.name, strings.Join(without[reason], ", "), reason)
	}
}

// holdSteps are the -hold-steps below -n.
func (r *benchRun) holdSteps() []int {
	var steps []int
	for _, f := range strings.Split(r.o.holdSteps, ",") {
		if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v > 0 && v < r.o.n {
			steps = append(steps, v)
		}
	}
	return steps
}

// pollClients is poll-fanout's client count.
func (r *benchRun) pollClients() int {
	if r.o.pollN > 0 {
		return r.o.pollN
	}
	return min(r.o.n, defaultPollN)
}
