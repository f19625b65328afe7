package main

// The worker side: one process drives a share of the well-behaved clients
// (role steady) or the reconnecting ones (role churn) on one loadgen loop,
// and talks to the driver by JSON lines on stdout and commands on stdin:
//
//	report FINAL   write the report: FINAL is the last sequence number
//	               published to every soak topic
//	quit           close every connection and exit
//
// A worker exits when its stdin ends, so that it never outlives the
// driver.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// Roles of a worker.
const (
	roleSteady = "steady"
	roleChurn  = "churn"
)

// dialAhead bounds the connections a worker has in their handshake at
// once, so that it does not overrun the server's listen backlog.
const dialAhead = 200

// backoff is how long a client waits after a failed connection.
const backoff = time.Second

// progressEvery is how often a worker writes its counters.
const progressEvery = 5 * time.Second

// workerStatus is a worker's line on stdout: its counters, and on report
// its verdict on its clients.
type workerStatus struct {
	Type       string `json:"type"` // progress, report
	Role       string `json:"role"`
	Open       int    `json:"open"`
	Dialed     int    `json:"dialed"`
	Errors     int    `json:"errors"`
	LastErr    string `json:"last_err,omitempty"`
	Received   int64  `json:"received"`   // publications received
	Reconnects int64  `json:"reconnects"` // churn: connections ended and dialed again
	// Steady clients only.
	Gaps    int64 `json:"gaps"`    // publications a client skipped
	Dups    int64 `json:"dups"`    // publications a client got again or out of order
	Dropped int64 `json:"dropped"` // ready clients the server ended
	Behind  int   `json:"behind"`  // report: ready clients whose last publication is not FINAL
	Unready int   `json:"unready"` // report: clients never subscribed
}

// steadyClient is what a steady worker tracks per client.
type steadyClient struct {
	last uint64 // the last sequence number received; 0: none yet
}

// soakWorker is the loadgen handler of a worker. It runs on the loop.
type soakWorker struct {
	loadgen.BuiltinHandler
	loop    *loadgen.Loop
	role    string
	topics  int
	clients []steadyClient // steady: by Conn.ID
	st      workerStatus
	// churn: open connections in the order they opened, each closed
	// after lifetime.
	lifetime time.Duration
	opened   []churnConn
	retry    []redial // redials held back after a failed connection
	nextID   int
	quitting bool // closing down: no more dials
}

// redial is a connection to dial again at a time, with an id.
type redial struct {
	at time.Time
	id int
}

type churnConn struct {
	c  *loadgen.Conn
	at time.Time
}

// topicOf is the soak topic of steady client id.
func topicOf(id, topics int) string { return "soak-" + strconv.Itoa(id%topics) }

func (w *soakWorker) Opened(c *loadgen.Conn) {
	if w.role == roleChurn {
		w.opened = append(w.opened, churnConn{c, time.Now()})
		return
	}
	w.loop.Send(c, true, []byte(`{"op":"subscribe","topic":"`+topicOf(c.ID, w.topics)+`","id":1}`))
}

func (w *soakWorker) Message(c *loadgen.Conn, p []byte) {
	if w.role == roleChurn {
		w.st.Received++
		return
	}
	if len(p) > 0 && p[0] == '{' {
		if strings.Contains(string(p), `"op":"ok"`) {
			w.loop.Ready(c)
		} else {
			w.loop.Abort(c, fmt.Errorf("subscribe refused: %s", p))
		}
		return
	}
	seq, err := strconv.ParseUint(string(p), 10, 64)
	if err != nil {
		w.loop.Abort(c, fmt.Errorf("publication %q is not a sequence number", p))
		return
	}
	w.st.Received++
	w.clients[c.ID].note(seq, &w.st)
}

// note records publication seq for a client: after its first, each must
// be the one after the last.
func (cl *steadyClient) note(seq uint64, st *workerStatus) {
	switch {
	case cl.last == 0:
	case seq == cl.last+1:
	case seq > cl.last+1:
		st.Gaps += int64(seq - cl.last - 1)
	default:
		st.Dups++
		return
	}
	cl.last = seq
}

func (w *soakWorker) Closed(c *loadgen.Conn, err error) {
	if w.quitting {
		return
	}
	if w.role == roleChurn {
		if err != nil {
			// Refused (a 503 at the server's cap) or failed: back off as
			// a real client does, rather than storm the server.
			w.nextID++
			w.retry = append(w.retry, redial{time.Now().Add(backoff), w.nextID})
			return
		}
		w.st.Reconnects++
		w.nextID++
		_ = w.loop.Dial(w.nextID)
		return
	}
	if c.IsReady() {
		w.st.Dropped++ // a well-behaved client that the server ended
	}
	// It comes back, as a client would (after a second when it failed),
	// and starts again from what it gets next: what it missed meanwhile
	// is counted by Dropped.
	w.clients[c.ID] = steadyClient{}
	if err != nil {
		w.retry = append(w.retry, redial{time.Now().Add(backoff), c.ID})
		return
	}
	_ = w.loop.Dial(c.ID)
}

// expire closes the churn connections that have lived their lifetime;
// Closed dials their replacements.
func (w *soakWorker) expire(now time.Time) {
	i := 0
	for ; i < len(w.opened) && now.Sub(w.opened[i].at) >= w.lifetime; i++ {
		if c := w.opened[i].c; c.IsOpen() {
			w.loop.Close(c)
		}
	}
	w.opened = w.opened[i:]
	w.redial(now)
}

// redial dials the held-back connections whose time has come.
func (w *soakWorker) redial(now time.Time) {
	j := 0
	for ; j < len(w.retry) && !now.Before(w.retry[j].at); j++ {
		_ = w.loop.Dial(w.retry[j].id)
	}
	w.retry = w.retry[j:]
}

// runWorker is the worker process.
func runWorker(args []string) error {
	var (
		addr, role      string
		n, topics, base int
		sources         int
		lifetime        time.Duration
	)
	fs := newFlagSet("worker")
	fs.StringVar(&addr, "addr", "", "server host:port")
	fs.StringVar(&role, "role", roleSteady, "steady or churn")
	fs.IntVar(&n, "n", 0, "connections")
	fs.IntVar(&topics, "topics", 1, "soak topics (steady)")
	fs.IntVar(&base, "source-base", 0, "first source address index")
	fs.IntVar(&sources, "sources", 1, "source addresses")
	fs.DurationVar(&lifetime, "lifetime", 500*time.Millisecond, "churn: how long each connection lives")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := &soakWorker{role: role, topics: topics, lifetime: lifetime, nextID: n}
	w.st.Role = role
	cfg := loadgen.Config{Addr: addr, Path: "/ws", SourceBase: base, Sources: sources, HandshakeTimeout: 30 * time.Second}
	if role == roleSteady {
		cfg.WaitReady = true
		w.clients = make([]steadyClient, n)
	} else {
		cfg.Path = "/ws?topic=churn"
	}
	loop, err := loadgen.NewLoop(cfg, w)
	if err != nil {
		return err
	}
	w.loop = loop
	defer func() {
		w.quitting = true
		loop.CloseAll()
	}()

	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds) // the driver is gone
	}()
	out := json.NewEncoder(os.Stdout)
	write := func(typ string) {
		w.st.Type, w.st.Open, w.st.Dialed, w.st.Errors = typ, loop.Open, loop.Dialed, loop.Errors
		if loop.LastErr != nil {
			w.st.LastErr = loop.LastErr.Error()
		}
		_ = out.Encode(w.st)
	}
	dialed, lastProgress := 0, time.Now()
	for {
		for dialed < n && loop.Handshaking < dialAhead {
			_ = loop.Dial(dialed)
			dialed++
		}
		if err := loop.Poll(20 * time.Millisecond); err != nil {
			return err
		}
		now := time.Now()
		if role == roleChurn {
			w.expire(now)
		} else {
			w.redial(now)
		}
		if now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			write("progress")
		}
		select {
		case cmd, ok := <-cmds:
			if !ok || cmd == "quit" {
				return nil
			}
			if final, found := strings.CutPrefix(cmd, "report "); found {
				f, err := strconv.ParseUint(final, 10, 64)
				if err != nil {
					return fmt.Errorf("report %q: %w", final, err)
				}
				w.verdict(f)
				write("report")
			}
		default:
		}
	}
}

// verdict counts the steady clients that are not where they should be:
// every ready one has received final last.
func (w *soakWorker) verdict(final uint64) {
	w.st.Behind, w.st.Unready = 0, 0
	if w.role != roleSteady {
		return
	}
	ready := map[int]bool{}
	for _, c := range w.loop.OpenConns() {
		ready[c.ID] = true
	}
	for id, cl := range w.clients {
		switch {
		case !ready[id]:
			w.st.Unready++
		case cl.last != final:
			w.st.Behind++
		}
	}
}
