package main

// Judging a dial that timed out. The server's descriptor guard drops new
// SYNs while its open files are near the limit (and thins them to one in
// eight for a second after), so a dial made then can see its SYN and
// every retransmission go unanswered. That is the guard's answer to a
// server at its limit, as a 503 is the answer at the connection cap; a
// dial timing out while the guard was open is a problem. The watcher
// reads how long the guard has kept the listener shut or thinned, often
// enough to tell the two apart.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// guardEvery is how often the watcher reads the guard's time.
const guardEvery = 200 * time.Millisecond

// guardWatch holds the guard's shut-or-thinned seconds, last read.
type guardWatch struct {
	shut atomic.Uint64 // float64 bits
}

// run reads the server's stats every guardEvery until ctx ends.
// Called once, on its own goroutine.
func (g *guardWatch) run(ctx context.Context, c *http.Client, api string) {
	tick := time.NewTicker(guardEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if st, err := serverStats(c, api, false); err == nil {
			g.shut.Store(math.Float64bits(st.FDGuardShut))
		}
	}
}

// now returns the guard's shut-or-thinned seconds, as last read. Safe
// from any goroutine; zero on a nil watcher.
func (g *guardWatch) now() float64 {
	if g == nil {
		return 0
	}
	return math.Float64frombits(g.shut.Load())
}

// settled returns the guard's time once the watcher has read it after
// this moment: a dial's timeout is judged on a reading that covers it.
func (g *guardWatch) settled() float64 {
	time.Sleep(2 * guardEvery)
	return g.now()
}

// guardRefused reports whether a dial that timed out met the guard: its
// time shut or thinned grew while the dial waited. Readings are rounded
// by the float text of the API, so growth under a millisecond is none.
func guardRefused(before, after float64) bool {
	return after-before >= 0.001
}

// dialTimedOut reports whether err is a dial's own timeout: no SYN-ACK
// came for the SYN and its retransmissions.
func dialTimedOut(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return op.Timeout()
}

// listenDrops reads the kernel's counts of connections a listener's
// queue could not take (TcpExt ListenOverflows and ListenDrops, for the
// whole machine): a SYN dropped there is not the guard's.
func listenDrops() (overflows, drops int64) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0, 0
	}
	return parseListenDrops(string(b))
}

// parseListenDrops reads ListenOverflows and ListenDrops from the text of
// /proc/net/netstat: a line of TcpExt names, then one of their values.
func parseListenDrops(netstat string) (overflows, drops int64) {
	lines := strings.Split(netstat, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok1 := strings.CutPrefix(lines[i], "TcpExt:")
		values, ok2 := strings.CutPrefix(lines[i+1], "TcpExt:")
		if !ok1 || !ok2 {
			continue
		}
		ns, vs := strings.Fields(names), strings.Fields(values)
		for j := range min(len(ns), len(vs)) {
			v, _ := strconv.ParseInt(vs[j], 10, 64)
			switch ns[j] {
			case "ListenOverflows":
				overflows = v
			case "ListenDrops":
				drops = v
			}
		}
		return overflows, drops
	}
	return 0, 0
}

// errGuardRefused is a dial whose SYNs went unanswered while the guard
// kept the listener shut or thinned: the server at its file limit.
var errGuardRefused = errors.New("dial unanswered while the descriptor guard was engaged")

// dial dials addr with d and, when the dial times out, tells the guard's
// answer (errGuardRefused) from a problem by g's readings around it.
func dial(ctx context.Context, d *net.Dialer, addr string, g *guardWatch) (net.Conn, error) {
	before := g.now()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil && g != nil && dialTimedOut(err) && ctx.Err() == nil {
		if after := g.settled(); guardRefused(before, after) {
			return nil, fmt.Errorf("%w (shut or thinned %.1f s of it): %w", errGuardRefused, after-before, err)
		}
	}
	return nc, err
}
