package main

// The worker side: one process holds up to -n connections on one epoll
// loop (package loadgen) and runs one scenario, talking to the driver by
// JSON lines on stdout (wmsg) and commands on stdin:
//
//	start          reset the counters; echo and churn begin sending
//	stop           echo and churn stop counting (and sending)
//	report TOTAL   write the report; TOTAL is how many publications each
//	               client should have received (fanout)
//	quit           close every connection and exit
//
// It writes a progress line every -interval from the moment it starts, a
// ready line when every connection is ready or failed, a started line
// after start, a complete line when every ready client has a publication,
// and a report line on report. The driver reads all workers at once.
// What the clients speak (-transport, -dialect) is in client.go.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// histMaxMicros is the histograms' top value: 60 s in microseconds.
const histMaxMicros = 60_000_000

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMaxMicros, 3) }

// wmsg is one line a worker writes.
type wmsg struct {
	Type string `json:"type"` // progress, ready, started, complete, report
	progress
	Seq    uint64        `json:"seq,omitempty"`    // complete
	Report *workerReport `json:"report,omitempty"` // report
}

// progress is what every line carries: the worker's counters now.
type progress struct {
	Conns       int     `json:"conns"`
	Dialed      int     `json:"dialed"`
	Handshaking int     `json:"handshaking"`
	Errors      int     `json:"errors"`
	Timeouts    int     `json:"timeouts"`
	LastErr     string  `json:"last_err,omitempty"`
	Received    int64   `json:"received"` // publications (or echoes) since start
	Ops         int64   `json:"ops"`      // round trips or handshakes since start
	CPU         float64 `json:"cpu_sec"`  // user+system CPU since the process began
}

// seqStat is one publication as one worker saw it.
type seqStat struct {
	Count  int   `json:"count"`   // deliveries
	LastAt int64 `json:"last_at"` // unix ns of the last one

	distinct int // clients that have it (the worker's own count)
}

// workerReport is a worker's account of the measured phase.
type workerReport struct {
	Tracked   int     `json:"tracked"` // clients ready at start
	OpenAtEnd int     `json:"open_at_end"`
	Received  int64   `json:"received"`
	Ops       int64   `json:"ops"`     // between start and stop
	Elapsed   float64 `json:"elapsed"` // seconds between start and stop (or report)
	CPU       float64 `json:"cpu_sec"` // CPU seconds between start and report
	// Per client, against the TOTAL of the report command.
	Lossy     int   `json:"lossy_clients"` // clients whose count != TOTAL
	Missing   int64 `json:"missing"`       // publications a client never got
	Dups      int64 `json:"duplicates"`    // publications a client got again
	Reordered int64 `json:"reordered"`     // first arrivals below the client's highest
	// From the servers' own numbering, where they send it (c1m's
	// offsets; Centrifugo's with history): per client, offsets skipped
	// and offsets not above the previous one; resets announced.
	OffsetGaps int64                             `json:"offset_gaps"`
	OffsetBack int64                             `json:"offset_back"`
	Resets     int64                             `json:"resets"`
	Undecoded  int64                             `json:"undecoded"` // messages that carried no payload the worker could read
	Hists      map[string]*hdrhistogram.Snapshot `json:"hists,omitempty"`
	Seqs       map[uint64]seqStat                `json:"seqs,omitempty"`
}

// client is what the worker tracks per connection.
type client struct {
	tracked bool
	count   int
	highest uint64
	seen    []uint64 // bitset of sequence numbers received
	// The server's offset of the last publication or position, kept
	// across start: the stream's open event or the first poll reply
	// says where a client begins.
	offset      uint64
	offsetKnown bool
}

// workerHandler records what the scenario needs. It runs on the loop.
type workerHandler struct {
	loadgen.BuiltinHandler
	loop            *loadgen.Loop
	out             *json.Encoder
	scenario        string // hold, fanout, echo, churn
	transport       loadgen.Transport
	dialect         string
	pollBase        string // Poll: the path the next polls go to
	pollWait        string // Poll: the wait= of the polls after the first
	join            []byte // SocketIO: the join event's arguments, a JSON array
	joinAck         []byte // SocketIO: the ack's arguments of a join that went through ("": any)
	payload         []byte
	hists           map[byte]*hdrhistogram.Histogram
	clients         []client // by Conn.ID
	seqs            map[uint64]*seqStat
	done            map[uint64]bool // publications announced complete
	received        int64
	ops             int64
	tracked         int // connections ready at start
	reordered       int64
	offsetGaps      int64
	offsetBack      int64
	resets          int64
	undecoded       int64
	churnID         int
	started         bool // start came
	stopped         bool // stop came
	startAt, stopAt time.Time
	startCPU        float64
	stopOps         int64
}

// publication accounts for one payload that client c received; offset
// is the server's number for it (0: none).
func (h *workerHandler) publication(c *loadgen.Conn, p []byte, offset uint64) {
	now := time.Now().UnixNano()
	seq, sent, kind, ok := decodePayload(p)
	if !ok {
		h.undecoded++
		return
	}
	h.received++
	if hist := h.hists[kind]; hist != nil {
		_ = hist.RecordValue(max(1, (now-sent)/int64(time.Microsecond)))
	}
	if offset > 0 {
		h.position(c, offset, true)
	}
	switch h.scenario {
	case "fanout":
		h.delivered(c, seq, now)
	case "echo":
		if !h.stopped {
			h.ops++
			h.send(c, seq+1)
		}
	}
}

// position records the server's offset for c: a publication's (counted
// against the previous one) or a starting position (a subscription, a
// reset).
func (h *workerHandler) position(c *loadgen.Conn, offset uint64, publication bool) {
	if c.ID >= len(h.clients) {
		return
	}
	cl := &h.clients[c.ID]
	if publication && cl.offsetKnown {
		switch {
		case offset > cl.offset+1:
			h.offsetGaps += int64(offset - cl.offset - 1)
		case offset <= cl.offset:
			h.offsetBack++
		}
	}
	cl.offset, cl.offsetKnown = offset, true
}

// delivered counts a publication for client c and announces it complete
// when every ready client has it.
func (h *workerHandler) delivered(c *loadgen.Conn, seq uint64, now int64) {
	st := h.seqs[seq]
	if st == nil {
		st = &seqStat{}
		h.seqs[seq] = st
	}
	st.Count++
	st.LastAt = max(st.LastAt, now)
	if c.ID >= len(h.clients) {
		return
	}
	cl := &h.clients[c.ID]
	w, bit := int(seq/64), uint64(1)<<(seq%64)
	for len(cl.seen) <= w {
		cl.seen = append(cl.seen, 0)
	}
	cl.count++
	if cl.seen[w]&bit != 0 {
		return // a duplicate: counted in the report as count - distinct
	}
	if seq < cl.highest {
		h.reordered++
	}
	cl.seen[w] |= bit
	cl.highest = max(cl.highest, seq)
	st.distinct++
	h.checkComplete(seq, st)
}

// checkComplete announces seq complete once as many distinct clients have
// it as are ready.
func (h *workerHandler) checkComplete(seq uint64, st *seqStat) {
	if !h.done[seq] && st.distinct >= h.loop.Open {
		h.done[seq] = true
		h.emit("complete", func(m *wmsg) { m.Seq = seq })
	}
}

func (h *workerHandler) send(c *loadgen.Conn, seq uint64) {
	encodePayload(h.payload, seq, kindEcho)
	h.loop.Send(c, false, h.payload)
}

func (h *workerHandler) Closed(c *loadgen.Conn, err error) {
	switch {
	case h.scenario == "churn" && h.started && !h.stopped:
		h.churnID++
		_ = h.loop.Dial(h.churnID) // a failed dial counts in loop.Errors
	case h.scenario == "fanout" && h.started:
		// One client fewer to wait for.
		for seq, st := range h.seqs {
			h.checkComplete(seq, st)
		}
	}
}

func cpuSeconds() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func (h *workerHandler) progress() progress {
	p := progress{
		Conns: h.loop.Open, Dialed: h.loop.Dialed, Handshaking: h.loop.Handshaking,
		Errors: h.loop.Errors, Timeouts: h.loop.Timeouts,
		Received: h.received, Ops: h.ops, CPU: cpuSeconds(),
	}
	if h.loop.LastErr != nil {
		p.LastErr = h.loop.LastErr.Error()
	}
	return p
}

func (h *workerHandler) emit(typ string, fill func(*wmsg)) {
	m := wmsg{Type: typ, progress: h.progress()}
	if fill != nil {
		fill(&m)
	}
	_ = h.out.Encode(&m)
}

// start begins the measured phase.
func (h *workerHandler) start() {
	h.started, h.stopped = true, false
	h.startAt, h.startCPU = time.Now(), cpuSeconds()
	h.received, h.ops = 0, 0
	h.reordered, h.offsetGaps, h.offsetBack, h.resets, h.undecoded = 0, 0, 0, 0, 0
	for _, hist := range h.hists {
		hist.Reset()
	}
	h.seqs, h.done = map[uint64]*seqStat{}, map[uint64]bool{}
	open := h.loop.OpenConns()
	switch h.scenario {
	case "fanout":
		for _, c := range open {
			if c.ID < len(h.clients) {
				old := h.clients[c.ID]
				h.clients[c.ID] = client{tracked: true, offset: old.offset, offsetKnown: old.offsetKnown}
			}
		}
	case "echo":
		for _, c := range open {
			h.send(c, 0)
		}
	case "churn":
		for _, c := range open {
			h.loop.Close(c) // Closed redials
		}
	}
	h.tracked = len(open)
}

func (h *workerHandler) stop() {
	if !h.stopped {
		h.stopped, h.stopAt, h.stopOps = true, time.Now(), h.ops
	}
}

func (h *workerHandler) report(total int) *workerReport {
	end, ops := h.stopAt, h.stopOps
	if !h.stopped {
		end, ops = time.Now(), h.ops
	}
	rep := &workerReport{
		Tracked: h.tracked, OpenAtEnd: h.loop.Open, Received: h.received, Ops: ops,
		Elapsed: end.Sub(h.startAt).Seconds(), CPU: cpuSeconds() - h.startCPU,
		Reordered: h.reordered, OffsetGaps: h.offsetGaps, OffsetBack: h.offsetBack,
		Resets: h.resets, Undecoded: h.undecoded,
		Hists: map[string]*hdrhistogram.Snapshot{},
	}
	for kind, name := range map[byte]string{kindEcho: "echo", kindSingle: "single", kindBurst: "burst"} {
		if hist := h.hists[kind]; hist != nil && hist.TotalCount() > 0 {
			rep.Hists[name] = hist.Export()
		}
	}
	if h.scenario == "fanout" {
		rep.Seqs = map[uint64]seqStat{}
		for seq, st := range h.seqs {
			rep.Seqs[seq] = *st
		}
		for i := range h.clients {
			cl := &h.clients[i]
			if !cl.tracked {
				continue
			}
			distinct := 0
			for seq := 1; seq <= total; seq++ {
				if seq/64 < len(cl.seen) && cl.seen[seq/64]&(1<<(seq%64)) != 0 {
					distinct++
				}
			}
			rep.Missing += int64(total - distinct)
			rep.Dups += int64(cl.count - distinct)
			if cl.count != total {
				rep.Lossy++
			}
		}
	}
	return rep
}

// workerOptions are a worker's flags, set by the driver.
type workerOptions struct {
	scenario, addr, path string
	transport, dialect   string
	pollWait             string
	join, joinAck        string
	n, size, inflight    int
	srcBase, srcCount    int
	interval, handshake  time.Duration
	// group, when set, is the process group the workers join (the
	// cluster runs); it is the driver's, not passed to the worker.
	group *procGroup
}

func (o *workerOptions) args() []string {
	return []string{
		"-scenario", o.scenario, "-addr", o.addr, "-path", o.path,
		"-transport", o.transport, "-dialect", o.dialect, "-poll-wait", o.pollWait, "-join", o.join, "-join-ack", o.joinAck,
		"-n", strconv.Itoa(o.n), "-size", strconv.Itoa(o.size), "-inflight", strconv.Itoa(o.inflight),
		"-src-base", strconv.Itoa(o.srcBase), "-src-count", strconv.Itoa(o.srcCount),
		"-interval", o.interval.String(), "-handshake-timeout", o.handshake.String(),
	}
}

// fileMargin is the open files a worker keeps for itself (stdio, epoll,
// the Go runtime's pipes) below its RLIMIT_NOFILE.
const fileMargin = 100

// defaultInflight is how many handshakes a worker keeps in progress.
const defaultInflight = 512

// defaultPollWait is the wait= of the polls that follow the first, in
// seconds as c1m reads it (PROTOCOL.md: /poll): long enough that a held
// poll outlives any measurement.
const defaultPollWait = "60"

func runWorker(args []string) error {
	var o workerOptions
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.StringVar(&o.scenario, "scenario", "hold", "hold, fanout, echo or churn")
	fs.StringVar(&o.addr, "addr", "", "server host:port")
	fs.StringVar(&o.path, "path", "/", "first request target, with its query")
	fs.StringVar(&o.transport, "transport", "ws", "ws, sse, poll or sio")
	fs.StringVar(&o.dialect, "dialect", dialectRaw, "how the server wraps publications: raw, c1m, centrifugo or socketio")
	fs.StringVar(&o.pollWait, "poll-wait", defaultPollWait, "poll: the wait= query value of the held polls")
	fs.StringVar(&o.join, "join", "", `sio: the arguments of the event that joins the room, a JSON array (["join","t"])`)
	fs.StringVar(&o.joinAck, "join-ack", "", `sio: the ack's arguments when the join went through (["t"]); "" takes any ack`)
	fs.IntVar(&o.n, "n", 0, "connections")
	fs.IntVar(&o.size, "size", 64, "echo payload bytes")
	fs.IntVar(&o.inflight, "inflight", defaultInflight, "handshakes in progress at most")
	fs.IntVar(&o.srcBase, "src-base", 0, "first source address (loadgen.SourceAddr index)")
	fs.IntVar(&o.srcCount, "src-count", 1, "source addresses")
	fs.DurationVar(&o.interval, "interval", time.Second, "progress interval")
	fs.DurationVar(&o.handshake, "handshake-timeout", loadgen.DefaultHandshakeTimeout, "connect + handshake bound")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if limit := raiseFileLimit(); o.n > int(limit)-fileMargin {
		return fmt.Errorf("-n %d is over this process's open-file limit %d minus %d", o.n, limit, fileMargin)
	}
	h := &workerHandler{
		out: json.NewEncoder(os.Stdout), scenario: o.scenario, dialect: o.dialect, pollWait: o.pollWait, join: []byte(o.join), joinAck: []byte(o.joinAck),
		payload: make([]byte, max(o.size, minPayload)),
		hists:   map[byte]*hdrhistogram.Histogram{kindEcho: newHist(), kindSingle: newHist(), kindBurst: newHist()},
		seqs:    map[uint64]*seqStat{}, done: map[uint64]bool{},
		clients: make([]client, o.n),
	}
	cfg := loadgen.Config{
		Addr: o.addr, Path: o.path, SourceBase: o.srcBase, Sources: o.srcCount, HandshakeTimeout: o.handshake,
	}
	if err := h.configure(&cfg, o.transport); err != nil {
		return err
	}
	loop, err := loadgen.NewLoop(cfg, h)
	if err != nil {
		return err
	}
	h.loop = loop
	cmds := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds) // the driver went away: quit
	}()

	nextProgress := time.Now().Add(o.interval)
	ready, attempts := false, 0
	for {
		// Connect, at most inflight handshakes at a time; a failed dial
		// counts as an error and the next one is tried.
		for !ready && attempts < o.n && loop.Handshaking < o.inflight {
			_ = loop.Dial(attempts)
			attempts++
		}
		if !ready && attempts >= o.n && loop.Handshaking == 0 {
			ready = true
			h.emit("ready", nil)
		}
		select {
		case cmd, ok := <-cmds:
			if !ok {
				cmd = "quit"
			}
			word, arg, _ := strings.Cut(cmd, " ")
			switch word {
			case "quit":
				loop.CloseAll()
				return nil
			case "start":
				h.start()
				h.emit("started", nil)
			case "stop":
				h.stop()
			case "report":
				total, _ := strconv.Atoi(arg)
				rep := h.report(total)
				h.emit("report", func(m *wmsg) { m.Report = rep })
			}
		default:
		}
		if err := loop.Poll(pollTimeout); err != nil {
			return err
		}
		if now := time.Now(); now.After(nextProgress) {
			h.emit("progress", nil)
			nextProgress = now.Add(o.interval)
		}
	}
}

// pollTimeout bounds how long a command waits for the loop: a command
// is seen within this time when no socket is active.
const pollTimeout = 5 * time.Millisecond
