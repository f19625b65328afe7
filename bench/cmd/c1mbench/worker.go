package main

// The worker side: one process holds up to -n connections on one epoll
// loop and runs one scenario, talking to the driver by JSON lines on
// stdout and commands on stdin. The driver starts as many workers as the
// open-file limit requires.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// report is one line a worker writes.
type report struct {
	Conns    int                    `json:"conns"`
	Errors   int                    `json:"errors"`
	Ready    bool                   `json:"ready,omitempty"`
	Done     bool                   `json:"done,omitempty"`
	Received int64                  `json:"received"`
	Ops      int64                  `json:"ops"` // round trips or handshakes
	Hist     *hdrhistogram.Snapshot `json:"hist,omitempty"`
	LastAt   map[uint64]int64       `json:"last_at,omitempty"` // publication -> unix ns of its last delivery here
}

// workerHandler records what the scenario needs.
type workerHandler struct {
	loop     *loadgen.Loop
	scenario string
	payload  []byte
	hist     *hdrhistogram.Histogram
	lastAt   map[uint64]int64
	received int64
	ops      int64
	churnID  int
	started  bool // "start" came: churn closes and redials from then on
	stop     bool
}

func (h *workerHandler) Opened(c *loadgen.Conn) {
	if h.scenario == "churn" && h.started {
		h.ops++
		h.loop.Close(c)
	}
}

func (h *workerHandler) Message(c *loadgen.Conn, p []byte) {
	now := time.Now().UnixNano()
	h.received++
	if len(p) < 16 {
		return
	}
	seq, sent := binary.BigEndian.Uint64(p), int64(binary.BigEndian.Uint64(p[8:]))
	_ = h.hist.RecordValue((now - sent) / 1000) // microseconds
	switch h.scenario {
	case "fanout":
		if now > h.lastAt[seq] {
			h.lastAt[seq] = now
		}
	case "echo":
		h.ops++
		if !h.stop {
			h.send(c, seq+1)
		}
	}
}

func (h *workerHandler) send(c *loadgen.Conn, seq uint64) {
	binary.BigEndian.PutUint64(h.payload, seq)
	binary.BigEndian.PutUint64(h.payload[8:], uint64(time.Now().UnixNano()))
	h.loop.Send(c, false, h.payload)
}

func (h *workerHandler) Closed(c *loadgen.Conn, err error) {
	if h.scenario == "churn" && h.started && !h.stop {
		h.churnID++
		_ = h.loop.Dial(h.churnID)
	}
}

// runWorker: worker -scenario S -addr A -path P -n N [-size B] [-inflight K]
func runWorker(args []string) error {
	opt := map[string]string{"size": "64", "inflight": "512"}
	for i := 0; i+1 < len(args); i += 2 {
		opt[strings.TrimPrefix(args[i], "-")] = args[i+1]
	}
	n, _ := strconv.Atoi(opt["n"])
	size, _ := strconv.Atoi(opt["size"])
	inflight, _ := strconv.Atoi(opt["inflight"])
	raiseFileLimit()
	h := &workerHandler{scenario: opt["scenario"], payload: make([]byte, max(size, 16)),
		hist: hdrhistogram.New(1, 60_000_000, 3), lastAt: map[uint64]int64{}}
	loop, err := loadgen.NewLoop(opt["addr"], opt["path"], h)
	if err != nil {
		return err
	}
	h.loop = loop
	out := json.NewEncoder(os.Stdout)
	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()

	// Connect, at most inflight handshakes at a time.
	dialed := 0
	lastReport := time.Now()
	for loop.Open < n {
		for dialed < n && dialed-loop.Open-loop.Errors < inflight {
			if err := loop.Dial(dialed); err != nil {
				return fmt.Errorf("dial %d: %w", dialed, err)
			}
			dialed++
		}
		if err := loop.Poll(10 * time.Millisecond); err != nil {
			return err
		}
		if dialed == n && loop.Conns() < n && loop.Open+loop.Errors >= n {
			break
		}
		if time.Since(lastReport) > time.Second {
			_ = out.Encode(report{Conns: loop.Open, Errors: loop.Errors})
			lastReport = time.Now()
		}
	}
	_ = out.Encode(report{Conns: loop.Open, Errors: loop.Errors, Ready: true})

	// Wait for commands: "start" (echo/churn), "report", "quit".
	for {
		select {
		case cmd, ok := <-cmds:
			if !ok || cmd == "quit" {
				loop.CloseAll()
				return nil
			}
			switch cmd {
			case "start":
				h.started = true
				h.hist.Reset()
				h.ops, h.received = 0, 0
				if h.scenario == "echo" {
					for _, c := range connsOf(loop) {
						h.send(c, 0)
					}
				}
				if h.scenario == "churn" {
					for _, c := range connsOf(loop) {
						loop.Close(c)
					}
				}
			case "stop":
				h.stop = true
			case "report":
				_ = out.Encode(report{Conns: loop.Open, Errors: loop.Errors, Done: true, Received: h.received, Ops: h.ops, Hist: h.hist.Export(), LastAt: h.lastAt})
				h.hist.Reset()
				h.lastAt = map[uint64]int64{}
				h.received, h.ops = 0, 0
			}
		default:
		}
		if err := loop.Poll(5 * time.Millisecond); err != nil {
			return err
		}
	}
}

// connsOf lists the open connections (the loop keeps them by fd).
func connsOf(l *loadgen.Loop) []*loadgen.Conn { return l.OpenConns() }
