// Command c1mbench measures c1m beside peer WebSocket servers, in one run
// on one machine, with the same load generator (package loadgen: epoll, no
// goroutine per connection) and the same scenarios:
//
//	hold    N idle connections: connect rate, server heap and RSS per
//	        connection, kernel memory per socket
//	fanout  N subscribers of one topic; publications one at a time and in
//	        bursts: deliveries per second, latency to each delivery and to
//	        the last one, loss counted per client
//	echo    clients sending in a closed loop: round trips per second, latency
//	churn   connect/close storm: handshakes per second, errors
//
// It prints a table with each server's ratio to c1m, writes a JSON file
// under bench/results/ and PNG plots beside it.
//
//	go run ./cmd/c1mbench -servers c1m,gorilla -n 2000
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// perWorker is how many connections one worker process opens: the
// open-file limit (20,000 here) minus room for the process's own files.
const perWorker = 19000

type options struct {
	servers, scenarios  string
	n, echoN, churnN    int
	holdSteps           string
	pubs, bursts, burst int
	size                int
	duration            time.Duration
	out                 string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := runWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	all := make([]string, 0)
	for _, s := range servers() {
		all = append(all, s.name)
	}
	flag.StringVar(&o.servers, "servers", strings.Join(all, ","), "servers to measure, c1m first")
	flag.StringVar(&o.scenarios, "scenarios", "hold,fanout,echo,churn", "scenarios to run")
	flag.IntVar(&o.n, "n", 19000, "connections for hold and fanout (a server process holds at most ~19.9k here)")
	flag.StringVar(&o.holdSteps, "hold-steps", "", "extra connection counts for the memory-per-connection plot, e.g. 2000,8000")
	flag.IntVar(&o.echoN, "echo-n", 1000, "clients in the echo scenario")
	flag.IntVar(&o.churnN, "churn-n", 200, "concurrent clients in the churn scenario")
	flag.IntVar(&o.pubs, "pubs", 10, "fanout: single publications")
	flag.IntVar(&o.bursts, "bursts", 3, "fanout: bursts")
	flag.IntVar(&o.burst, "burst", 20, "fanout: publications per burst")
	flag.IntVar(&o.size, "size", 64, "payload bytes")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "echo and churn duration")
	flag.StringVar(&o.out, "out", "results", "folder for the JSON and plots")
	flag.Parse()
	raiseFileLimit()

	run := newRun(o)
	for _, s := range selected(o.servers) {
		run.server(s)
	}
	run.finish()
}

func selected(names string) []server {
	var out []server
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(servers(), func(s server) bool { return s.name == name })
		if i < 0 {
			log.Fatalf("unknown server %q", name)
		}
		out = append(out, servers()[i])
	}
	return out
}

// Row is one server and scenario in the results.
type Row struct {
	Server           string  `json:"server"`
	Scenario         string  `json:"scenario"`
	Conns            int     `json:"conns"`
	HeapPerConn      float64 `json:"heap_bytes_per_conn"`
	RSSPerConn       float64 `json:"rss_bytes_per_conn"`
	KernelPerSocket  float64 `json:"kernel_bytes_per_socket,omitempty"`
	ConnectPerSec    float64 `json:"connects_per_sec,omitempty"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	BurstPerSec      float64 `json:"burst_deliveries_per_sec,omitempty"`
	LastP50          float64 `json:"last_delivery_p50_ms,omitempty"`
	LastP99          float64 `json:"last_delivery_p99_ms,omitempty"`
	P50              float64 `json:"p50_ms"`
	P99              float64 `json:"p99_ms"`
	P999             float64 `json:"p999_ms,omitempty"`
	Expected         int64   `json:"expected"`
	Received         int64   `json:"received"`
	RoundTripsPerSec float64 `json:"round_trips_per_sec,omitempty"`
	HandshakesPerSec float64 `json:"handshakes_per_sec,omitempty"`
	Errors           int     `json:"errors"`
	Note             string  `json:"note,omitempty"`
	hist             *hdrhistogram.Histogram
}

type benchRun struct {
	o       options
	bin     string
	rows    []Row
	started time.Time
}

func newRun(o options) *benchRun {
	bin, err := os.MkdirTemp("", "c1mbench")
	if err != nil {
		log.Fatal(err)
	}
	return &benchRun{o: o, bin: bin, started: time.Now()}
}

func (r *benchRun) has(scenario string) bool {
	return slices.Contains(strings.Split(r.o.scenarios, ","), scenario)
}

// server runs every scenario against one server.
func (r *benchRun) server(s server) {
	log.Printf("== %s", s.name)
	bin := filepath.Join(r.bin, s.name)
	if err := s.build(bin); err != nil {
		log.Printf("%s: build failed, skipped: %v", s.name, err)
		return
	}
	if r.has("hold") {
		steps := []int{r.o.n}
		if r.o.holdSteps != "" {
			steps = nil
			for _, f := range strings.Split(r.o.holdSteps, ",") {
				var v int
				fmt.Sscan(f, &v)
				steps = append(steps, v)
			}
			steps = append(steps, r.o.n)
		}
		for _, n := range steps {
			r.scenario(s, bin, "hold", n)
		}
	}
	if r.has("fanout") && s.publish != "" {
		r.scenario(s, bin, "fanout", r.o.n)
	}
	if r.has("echo") && s.name != "ceiling" {
		e := echoServer(s)
		ebin := bin
		if e.name == "c1m" {
			ebin = bin + "-echo"
			if err := e.build(ebin); err != nil {
				log.Printf("echo build: %v", err)
				return
			}
		}
		r.scenario(e, ebin, "echo", r.o.echoN)
	}
	if r.has("churn") && s.name != "ceiling" {
		r.scenario(s, bin, "churn", r.o.churnN)
	}
}

// workers is a set of worker processes holding connections.
type workers struct {
	procs []*exec.Cmd
	in    []io.WriteCloser
	out   []*bufio.Scanner
}

func startWorkers(scenario, addr, path string, n, size int) (*workers, error) {
	self, _ := os.Executable()
	w := &workers{}
	for left := n; left > 0; left -= perWorker {
		k := min(left, perWorker)
		cmd := exec.Command(self, "worker", "-scenario", scenario, "-addr", addr, "-path", path,
			"-n", fmt.Sprint(k), "-size", fmt.Sprint(size))
		cmd.Stderr = os.Stderr
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		w.procs, w.in, w.out = append(w.procs, cmd), append(w.in, stdin), append(w.out, sc)
	}
	return w, nil
}

// wait reads each worker's lines until one satisfies done; it shows
// progress on stderr.
func (w *workers) wait(done func(report) bool) []report {
	reps := make([]report, len(w.procs))
	for i, sc := range w.out {
		for sc.Scan() {
			var rep report
			if json.Unmarshal(sc.Bytes(), &rep) != nil {
				continue
			}
			reps[i] = rep
			if done(rep) {
				break
			}
			fmt.Fprintf(os.Stderr, "\r  worker %d: %d connections, %d errors   ", i, rep.Conns, rep.Errors)
		}
	}
	return reps
}

func (w *workers) send(cmd string) {
	for _, in := range w.in {
		fmt.Fprintln(in, cmd)
	}
}

func (w *workers) stop() {
	w.send("quit")
	for _, p := range w.procs {
		_ = p.Wait()
	}
}

func sum(reps []report, f func(report) int64) int64 {
	var t int64
	for _, r := range reps {
		t += f(r)
	}
	return t
}

// statsOf reads a server's heap through its stats endpoint.
func statsOf(p *process, s server) (heap int64) {
	if s.stats == "" {
		return 0
	}
	resp, err := http.Get("http://" + p.api + s.stats)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		HeapInuse int64 `json:"heap_inuse_bytes"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.HeapInuse
}

// scenario starts the server, runs one scenario with n connections and
// records a row.
func (r *benchRun) scenario(s server, bin, scenario string, n int) {
	p, err := start(s, bin)
	if err != nil {
		log.Printf("%s: %v", s.name, err)
		return
	}
	defer p.stop()
	row := Row{Server: s.name, Scenario: scenario, Conns: n, Note: s.note}
	heap0, rss0, kern0 := statsOf(p, s), rssBytes(p.cmd.Process.Pid), kernelSocketBytes()
	t0 := time.Now()
	w, err := startWorkers(scenario, p.ws, s.path, n, r.o.size)
	if err != nil {
		log.Printf("%s: workers: %v", s.name, err)
		return
	}
	defer w.stop()
	reps := w.wait(func(rep report) bool { return rep.Ready })
	fmt.Fprintln(os.Stderr)
	open := int(sum(reps, func(r report) int64 { return int64(r.Conns) }))
	row.Errors = int(sum(reps, func(r report) int64 { return int64(r.Errors) }))
	row.Conns = open
	if open == 0 {
		log.Printf("%s %s: no connection opened", s.name, scenario)
		return
	}

	switch scenario {
	case "hold":
		row.ConnectPerSec = float64(open) / time.Since(t0).Seconds()
		time.Sleep(time.Second) // let handshake garbage and buffers settle
		heap1, rss1, kern1 := statsOf(p, s), rssBytes(p.cmd.Process.Pid), kernelSocketBytes()
		row.HeapPerConn = float64(heap1-heap0) / float64(open)
		row.RSSPerConn = float64(rss1-rss0) / float64(open)
		// Both ends of each connection live on this machine.
		row.KernelPerSocket = float64(kern1-kern0) / float64(2*open)
	case "fanout":
		r.fanout(&row, w, p, s, open)
	case "echo", "churn":
		w.send("start")
		time.Sleep(r.o.duration)
		w.send("stop")
		time.Sleep(200 * time.Millisecond)
		w.send("report")
		reps = w.wait(func(rep report) bool { return rep.Done })
		ops := sum(reps, func(r report) int64 { return r.Ops })
		if scenario == "echo" {
			row.RoundTripsPerSec = float64(ops) / r.o.duration.Seconds()
			row.hist = merge(reps)
			row.P50, row.P99, row.P999 = percentiles(row.hist)
		} else {
			row.HandshakesPerSec = float64(ops) / r.o.duration.Seconds()
		}
		row.Errors = int(sum(reps, func(r report) int64 { return int64(r.Errors) }))
	}
	log.Printf("%s %s: %+v", s.name, scenario, summary(row))
	r.rows = append(r.rows, row)
}

// fanout publishes singles then bursts and checks every delivery arrived.
func (r *benchRun) fanout(row *Row, w *workers, p *process, s server, n int) {
	url := "http://" + p.api + s.publish
	payload := make([]byte, max(r.o.size, 16))
	seq := uint64(0)
	publish := func() time.Time {
		seq++
		at := time.Now()
		binary.BigEndian.PutUint64(payload, seq)
		binary.BigEndian.PutUint64(payload[8:], uint64(at.UnixNano()))
		resp, err := http.Post(url, "application/octet-stream", strings.NewReader(string(payload)))
		if err != nil {
			log.Printf("publish: %v", err)
			return at
		}
		resp.Body.Close()
		return at
	}
	publishedAt := map[uint64]time.Time{}
	// Singles, spaced so each one's fan-out finishes before the next.
	gap := time.Duration(max(200, n/50)) * time.Millisecond
	for range r.o.pubs {
		at := publish()
		publishedAt[seq] = at
		time.Sleep(gap)
	}
	singles := seq
	var burstStarts []uint64
	for range r.o.bursts {
		burstStarts = append(burstStarts, seq+1)
		for range r.o.burst {
			at := publish()
			publishedAt[seq] = at
		}
		time.Sleep(2 * gap)
	}
	time.Sleep(gap)
	w.send("report")
	reps := w.wait(func(rep report) bool { return rep.Done })
	row.Expected = int64(n) * int64(seq)
	row.Received = sum(reps, func(r report) int64 { return r.Received })
	row.hist = merge(reps)
	row.P50, row.P99, row.P999 = percentiles(row.hist)

	last := map[uint64]int64{}
	for _, rep := range reps {
		for k, v := range rep.LastAt {
			last[k] = max(last[k], v)
		}
	}
	// Singles: time to the last delivery, and deliveries per second.
	var lasts []float64
	for k := uint64(1); k <= singles; k++ {
		if at, ok := last[k]; ok {
			lasts = append(lasts, float64(at-publishedAt[k].UnixNano())/1e6)
		}
	}
	slices.Sort(lasts)
	if len(lasts) > 0 {
		row.LastP50 = lasts[len(lasts)/2]
		row.LastP99 = lasts[min(len(lasts)-1, len(lasts)*99/100)]
		row.DeliveriesPerSec = float64(n) / (row.LastP50 / 1e3)
	}
	// Bursts: all the burst's deliveries over the time to its last one.
	var rates []float64
	for _, b := range burstStarts {
		end := b + uint64(r.o.burst) - 1
		if at, ok := last[end]; ok {
			rates = append(rates, float64(n*r.o.burst)/(float64(at-publishedAt[b].UnixNano())/1e9))
		}
	}
	slices.Sort(rates)
	if len(rates) > 0 {
		row.BurstPerSec = rates[len(rates)/2]
	}
}

func merge(reps []report) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, rep := range reps {
		if rep.Hist != nil {
			h.Merge(hdrhistogram.Import(rep.Hist))
		}
	}
	return h
}

func percentiles(h *hdrhistogram.Histogram) (p50, p99, p999 float64) {
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	return ms(50), ms(99), ms(99.9)
}

func summary(r Row) string {
	switch r.Scenario {
	case "hold":
		return fmt.Sprintf("conns=%d heap/conn=%.0fB rss/conn=%.0fB kernel/socket=%.0fB connects/s=%.0f errors=%d",
			r.Conns, r.HeapPerConn, r.RSSPerConn, r.KernelPerSocket, r.ConnectPerSec, r.Errors)
	case "fanout":
		return fmt.Sprintf("conns=%d single=%.0f/s (last delivery p50 %.1fms p99 %.1fms) burst=%.0f/s latency p50=%.1fms p99=%.1fms received %d/%d",
			r.Conns, r.DeliveriesPerSec, r.LastP50, r.LastP99, r.BurstPerSec, r.P50, r.P99, r.Received, r.Expected)
	case "echo":
		return fmt.Sprintf("clients=%d round trips/s=%.0f p50=%.2fms p99=%.2fms", r.Conns, r.RoundTripsPerSec, r.P50, r.P99)
	default:
		return fmt.Sprintf("clients=%d handshakes/s=%.0f errors=%d", r.Conns, r.HandshakesPerSec, r.Errors)
	}
}
