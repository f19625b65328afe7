// Command c1msoak runs c1m under a long mixed load and fails when the
// server grows after its warm-up or when a well-behaved client misses a
// publication (make soak; DURATION=10m by default):
//
//   - 17,900 well-behaved WebSocket clients (-steady) on 100 topics, each
//     topic published once a second through the API; each client checks
//     that it gets every publication of its topic after its first;
//   - 1,000 more connections (-churn) that each live 0.5 s and are
//     dialed again: up to 2,000 reconnects a second (about 1,000 on a
//     loaded 2-core machine: the results say), 18,900 connections
//     with the abusive ones (the server's cap is 19,488 at 20,000 open
//     files, and churned sessions still closing count against it);
//   - a few slow readers of a firehose topic, which stop reading until
//     the server ends them, and abusive clients: publish and command
//     floods, unmasked frames, requests that are not HTTP or too big;
//   - every 10 s, the server's heap (after a GC), RSS, goroutines and open
//     files are sampled, printed, kept in the results JSON and plotted;
//     the kernel's listen-queue overflows and drops over the load are
//     reported beside them (listendrops.go).
//
// An abusive round that fails is a problem unless the server answered
// 503 at its cap or the end of the load cut the round short: a dial
// that times out during the load is a problem (abuse.go).
//
// The server, the worker processes and the abusive clients all stop by
// themselves at the end (or on SIGINT), and every process it started is
// killed: children also get SIGKILL if this process dies first.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

func newFlagSet(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) }

// options of the driver.
type options struct {
	duration, warmup, sampleEvery  time.Duration
	steady, churn, workers, topics int
	slow                           int
	out                            string
}

// Load and server settings that the checks rely on.
const (
	publishEvery = time.Second // each soak topic gets one publication this often
	firehoseRate = 50          // firehose publications a second, for the slow readers
	firehoseSize = 8 << 10     // bytes of each
	maxOutbound  = 256 << 10   // the server's -max-outbound: a slow reader's cap
	settle       = 5 * time.Second
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := runWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "c1msoak worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	fs := newFlagSet("c1msoak")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs once every client is connected")
	fs.DurationVar(&o.warmup, "warmup", 0, "samples before this are not judged for growth (0: 30% of -duration, at least 2 minutes, at most 10)")
	fs.DurationVar(&o.sampleEvery, "sample", 10*time.Second, "sampling interval")
	fs.IntVar(&o.steady, "steady", 17900, "well-behaved clients")
	fs.IntVar(&o.churn, "churn", 1000, "reconnecting connections, each living 0.5 s before it is dialed again")
	fs.IntVar(&o.workers, "workers", 2, "processes for the well-behaved clients (each holds at most its open-file limit)")
	fs.IntVar(&o.topics, "topics", 100, "soak topics")
	fs.IntVar(&o.slow, "slow", 3, "slow readers")
	fs.StringVar(&o.out, "out", "results", "folder of the results (JSON and PNG)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if o.warmup == 0 {
		o.warmup = min(max(o.duration*3/10, 2*time.Minute), 10*time.Minute)
	}
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "c1msoak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// children are the processes the driver started; kill ends them all.
type children struct {
	mu    sync.Mutex
	procs []*exec.Cmd
}

func (c *children) start(cmd *exec.Cmd) error {
	// Their own process group, and SIGKILL when the driver dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, cmd)
	c.mu.Unlock()
	return nil
}

func (c *children) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.Process != nil && p.ProcessState == nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			_ = p.Wait()
		}
	}
}

// freeAddr returns a free loopback host:port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// repo is the c1m repository root, found from the bench module.
func repo() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bench", "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

func run(o options) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A hard bound on the whole run, whatever happens.
	ctx, cancel := context.WithTimeout(ctx, o.duration+o.warmup+10*time.Minute)
	defer cancel()
	var kids children
	defer kids.kill()

	dir, err := os.MkdirTemp("", "c1msoak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "c1m")
	build := exec.Command("go", "build", "-o", bin, "./cmd/c1m")
	build.Dir = repo()
	if out, err := build.CombinedOutput(); err != nil {
		return false, fmt.Errorf("go build ./cmd/c1m: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return false, err
	}
	api, err := freeAddr()
	if err != nil {
		return false, err
	}
	srv := exec.Command(bin, "-listen", addr, "-api", api, "-demo=false", "-log-level", "warn",
		"-history", "100", "-history-ttl", "2m", "-max-outbound", strconv.Itoa(maxOutbound),
		"-demo-publish", "-command-rate", "100", "-command-burst", "100", "-publish-rate", "20", "-publish-burst", "20")
	srv.Stderr = os.Stderr
	if err := kids.start(srv); err != nil {
		return false, err
	}
	c := &http.Client{Timeout: 10 * time.Second}
	if err := waitHTTP(ctx, c, "http://"+api+"/readyz"); err != nil {
		return false, err
	}
	fmt.Printf("c1m pid %d on %s (API %s)\n", srv.Process.Pid, addr, api)

	// The clients: steady workers, then the churn worker.
	var ws []*worker
	per := (o.steady + o.workers - 1) / o.workers
	src := 0
	for i := range o.workers {
		n := min(per, o.steady-i*per)
		sources := loadgen.SourcesFor(n, loadgen.ConnsPerSource)
		w, err := startWorker(&kids, roleSteady, addr, n, o.topics, src, sources)
		if err != nil {
			return false, err
		}
		src += sources
		ws = append(ws, w)
	}
	// Each churn connection leaves a TIME_WAIT socket for a minute: 60,000
	// of them at 1,000 a second, spread over enough source addresses.
	churn, err := startWorker(&kids, roleChurn, addr, o.churn, 0, src, 100)
	if err != nil {
		return false, err
	}
	ws = append(ws, churn)
	if err := waitConnected(ctx, ws, o.steady, 5*time.Minute); err != nil {
		return false, err
	}
	fmt.Printf("%d well-behaved clients subscribed; load for %v (warm-up %v)\n", o.steady, o.duration, o.warmup)

	// The load.
	loadCtx, endLoad := context.WithTimeout(ctx, o.duration)
	defer endLoad()
	var abuse abuseCounts
	overflows0, drops0 := listenDrops()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); runAbuse(loadCtx, addr, o.slow, &abuse) }()
	var final uint64
	var pubErrs int64
	go func() {
		defer wg.Done()
		final, pubErrs = publish(loadCtx, c, api, o.topics)
	}()
	samples := sample(loadCtx, c, api, srv.Process.Pid, o.sampleEvery, ws, &abuse)
	wg.Wait()
	overflows1, drops1 := listenDrops()

	// Every publication has had time to arrive: the verdict.
	time.Sleep(settle)
	res := result{Options: o.String(), Final: final, PublishErrors: pubErrs, Samples: samples,
		SlowReaders: abuse.SlowReaders.Load(), PubFloods: abuse.PubFloods.Load(), CmdFloods: abuse.CmdFloods.Load(),
		BadFrames: abuse.BadFrames.Load(), BadRequests: abuse.BadRequests.Load(), AbuseUnexpected: abuse.Unexpected.Load(), AbuseAtCapacity: abuse.AtCapacity.Load(), AbuseCut: abuse.Cut.Load(),
		ListenOverflows: overflows1 - overflows0, ListenDrops: drops1 - drops0}
	if p, ok := abuse.lastProblem.Load().(string); ok {
		res.AbuseLastProblem = p
	}
	for _, w := range ws {
		r, err := w.report(final)
		if err != nil {
			return false, err
		}
		res.Workers = append(res.Workers, r)
	}
	if st, err := serverStats(c, api, false); err == nil {
		res.Evictions = st.Evictions
	}
	res.judge(o.warmup)
	if err := res.save(o.out); err != nil {
		return false, err
	}
	for _, w := range ws {
		w.quit()
	}
	fmt.Println(res.summary())
	return res.OK, nil
}

// waitHTTP waits until u answers 200.
func waitHTTP(ctx context.Context, c *http.Client, u string) error {
	for {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never answered: %w", u, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publish publishes, every publishEvery, sequence number seq to every soak
// topic, and firehoseRate firehose publications a second, until ctx ends.
// It returns the last sequence number and the failed publications.
func publish(ctx context.Context, c *http.Client, api string, topics int) (uint64, int64) {
	var seq uint64
	var errs int64
	post := func(topic string, body []byte) {
		resp, err := c.Post("http://"+api+"/api/publish?topic="+topic, "text/plain", bytes.NewReader(body))
		if err != nil {
			errs++
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs++
		}
	}
	fire := bytes.Repeat([]byte("f"), firehoseSize)
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	hose := time.NewTicker(time.Second / firehoseRate)
	defer hose.Stop()
	for {
		select {
		case <-ctx.Done():
			return seq, errs
		case <-hose.C:
			post("firehose", fire)
		case <-tick.C:
			seq++
			body := []byte(strconv.FormatUint(seq, 10))
			for k := range topics {
				post("soak-"+strconv.Itoa(k), body)
			}
		}
	}
}

func (o options) String() string {
	return fmt.Sprintf("duration %v, warm-up %v, %d steady clients in %d workers on %d topics, %d churning, %d slow readers",
		o.duration, o.warmup, o.steady, o.workers, o.topics, o.churn, o.slow)
}

// errNotConnected: the clients did not all connect in time.
var errNotConnected = errors.New("the well-behaved clients did not all subscribe")

// waitConnected waits until the steady workers hold n ready clients.
func waitConnected(ctx context.Context, ws []*worker, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		open := 0
		for _, w := range ws {
			if st := w.status(); st.Role == roleSteady {
				open += st.Open
			}
		}
		if open >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d of %d after %v", errNotConnected, open, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// workerArgs are the flags of a worker process.
func workerArgs(role, addr string, n, topics, srcBase, sources int) []string {
	return []string{"worker", "-role", role, "-addr", addr, "-n", strconv.Itoa(n), "-topics", strconv.Itoa(max(topics, 1)),
		"-source-base", strconv.Itoa(srcBase), "-sources", strconv.Itoa(sources)}
}
