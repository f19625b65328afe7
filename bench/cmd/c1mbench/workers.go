package main

// The driver side of the worker processes: start them, read all of them
// at once (one goroutine per worker keeps its stdout drained so a worker
// never blocks on a full pipe), wait for conditions with deadlines, and
// print one progress line for all of them at a fixed interval.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// split divides n connections over worker processes of at most capacity
// connections each, using at least minWorkers processes (but never more
// than n); the counts differ by at most one.
func split(n, capacity, minWorkers int) []int {
	if n <= 0 || capacity <= 0 {
		return nil
	}
	w := max((n+capacity-1)/capacity, minWorkers, 1)
	w = min(w, n)
	out := make([]int, w)
	for i := range out {
		out[i] = n / w
		if i < n%w {
			out[i]++
		}
	}
	return out
}

// workerSet is a set of running worker processes.
type workerSet struct {
	label string
	procs []*exec.Cmd
	stdin []io.WriteCloser
	done  sync.WaitGroup // the stdout readers

	changed chan struct{} // a line arrived or a worker exited (cap 1)
	group   *procGroup    // nil, or the group that started (and reaps) the workers

	mu       sync.Mutex // guards the fields below
	last     []progress
	ready    []bool
	started  []bool
	exited   []bool
	reports  []*workerReport
	complete map[uint64]int // publication -> workers that announced it complete
}

// startWorkers starts one worker process per entry of counts; worker i
// gets the source addresses [i*sources, (i+1)*sources).
func startWorkers(label string, base workerOptions, counts []int, sources int) (*workerSet, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if len(counts)*sources > loadgen.MaxSources {
		return nil, fmt.Errorf("%d workers × %d source addresses is over %d", len(counts), sources, loadgen.MaxSources)
	}
	k := len(counts)
	w := &workerSet{
		label: label, changed: make(chan struct{}, 1), complete: map[uint64]int{}, group: base.group,
		last: make([]progress, k), ready: make([]bool, k), started: make([]bool, k),
		exited: make([]bool, k), reports: make([]*workerReport, k),
	}
	for i, n := range counts {
		o := base
		o.n, o.srcBase, o.srcCount = n, i*sources, sources
		cmd := exec.Command(self, append([]string{"worker"}, o.args()...)...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			w.stop()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			w.stop()
			return nil, err
		}
		start := cmd.Start
		if base.group != nil {
			start = func() error { return base.group.start(cmd) }
		}
		if err := start(); err != nil {
			w.stop()
			return nil, err
		}
		w.procs, w.stdin = append(w.procs, cmd), append(w.stdin, stdin)
		w.done.Add(1)
		go w.read(i, stdout)
	}
	return w, nil
}

// read drains worker i's stdout until it exits.
func (w *workerSet) read(i int, r io.Reader) {
	defer w.done.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var m wmsg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		w.mu.Lock()
		w.last[i] = m.progress
		switch m.Type {
		case "ready":
			w.ready[i] = true
		case "started":
			w.started[i] = true
		case "complete":
			w.complete[m.Seq]++
		case "report":
			w.reports[i] = m.Report
		}
		w.mu.Unlock()
		w.notify()
	}
	w.mu.Lock()
	w.exited[i] = true
	w.mu.Unlock()
	w.notify()
}

func (w *workerSet) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond (called with w.mu held) holds or timeout
// passes; it says which.
func (w *workerSet) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-w.changed:
		case <-deadline.C:
			w.mu.Lock()
			defer w.mu.Unlock()
			return cond()
		}
	}
}

// all reports whether every worker that is still running has flag set.
// Called with w.mu held.
func (w *workerSet) all(flag []bool) bool {
	for i := range flag {
		if !flag[i] && !w.exited[i] {
			return false
		}
	}
	return true
}

// alive counts the workers still running. Called with w.mu held.
func (w *workerSet) alive() int {
	n := 0
	for _, e := range w.exited {
		if !e {
			n++
		}
	}
	return n
}

func (w *workerSet) waitReady(timeout time.Duration) bool {
	return w.waitFor(timeout, func() bool { return w.all(w.ready) })
}

// start sends start and waits until every worker has reset its counters.
// The publications announced complete are forgotten too, as the workers
// forget them: a measured phase after another numbers its publications
// from 1 again (c1mbench cluster's rounds).
func (w *workerSet) start(timeout time.Duration) bool {
	w.mu.Lock()
	clear(w.complete)
	clear(w.started)
	w.mu.Unlock()
	w.send("start")
	return w.waitFor(timeout, func() bool { return w.all(w.started) })
}

// waitComplete waits until every running worker announced each of seqs
// complete.
func (w *workerSet) waitComplete(seqs []uint64, timeout time.Duration) bool {
	return w.waitFor(timeout, func() bool {
		for _, s := range seqs {
			if w.complete[s] < w.alive() {
				return false
			}
		}
		return true
	})
}

// report asks every worker for its report; total is the publications each
// client should have. Workers that do not answer in time are missing from
// the result.
func (w *workerSet) report(total int, timeout time.Duration) []*workerReport {
	w.mu.Lock()
	clear(w.reports)
	w.mu.Unlock()
	w.send(fmt.Sprintf("report %d", total))
	w.waitFor(timeout, func() bool {
		for i := range w.reports {
			if w.reports[i] == nil && !w.exited[i] {
				return false
			}
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*workerReport
	for _, r := range w.reports {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// total sums the workers' latest progress.
func (w *workerSet) total() progress {
	w.mu.Lock()
	defer w.mu.Unlock()
	var t progress
	for _, p := range w.last {
		t.Conns += p.Conns
		t.Dialed += p.Dialed
		t.Handshaking += p.Handshaking
		t.Errors += p.Errors
		t.Timeouts += p.Timeouts
		t.Received += p.Received
		t.Ops += p.Ops
		t.CPU += p.CPU
		if p.LastErr != "" {
			t.LastErr = p.LastErr
		}
	}
	return t
}

// printProgress writes one line for all workers to stderr every interval
// until stop is closed: counts, rates since the previous line, errors.
func (w *workerSet) printProgress(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	began, prev, prevAt := time.Now(), progress{}, time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p, dt := w.total(), now.Sub(prevAt).Seconds()
			rate := func(a, b int64) float64 { return float64(a-b) / dt }
			var b strings.Builder
			fmt.Fprintf(&b, "  %-16s %5.0fs  conns %d (%+.0f/s)  handshaking %d  errors %d (timeouts %d)",
				w.label, now.Sub(began).Seconds(), p.Conns, rate(int64(p.Conns), int64(prev.Conns)), p.Handshaking, p.Errors, p.Timeouts)
			if p.Received > 0 || prev.Received > 0 {
				fmt.Fprintf(&b, "  received %d (%.0f/s)", p.Received, rate(p.Received, prev.Received))
			}
			if p.Ops > 0 || prev.Ops > 0 {
				fmt.Fprintf(&b, "  ops %d (%.0f/s)", p.Ops, rate(p.Ops, prev.Ops))
			}
			fmt.Fprintf(&b, "  generator cpu %.0f%%", 100*(p.CPU-prev.CPU)/dt)
			if p.Errors > prev.Errors && p.LastErr != "" {
				fmt.Fprintf(&b, "  last error: %s", p.LastErr)
			}
			fmt.Fprintln(os.Stderr, b.String())
			prev, prevAt = p, now
		}
	}
}

// pids returns the workers' process ids.
func (w *workerSet) pids() []int {
	out := make([]int, 0, len(w.procs))
	for _, p := range w.procs {
		out = append(out, p.Process.Pid)
	}
	return out
}

func (w *workerSet) send(cmd string) {
	for _, in := range w.stdin {
		_, _ = fmt.Fprintln(in, cmd)
	}
}

// quitTimeout bounds how long stop waits for a worker to close its
// connections and exit before killing it.
const quitTimeout = 30 * time.Second

// stop tells every worker to quit and waits for it, killing the ones that
// do not exit in time.
func (w *workerSet) stop() {
	w.send("quit")
	for _, in := range w.stdin {
		in.Close()
	}
	kill := time.AfterFunc(quitTimeout, func() {
		for _, p := range w.procs {
			_ = p.Process.Kill()
		}
	})
	defer kill.Stop()
	w.done.Wait() // each reader ends when its worker's stdout closes
	for _, p := range w.procs {
		if w.group != nil {
			<-w.group.exited(p) // the group reaps its own
			continue
		}
		_ = p.Wait()
	}
}
