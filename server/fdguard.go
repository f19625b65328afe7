package server

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The descriptor guard: a connection flood must not take the process to
// EMFILE.
//
// gnet v2.9.7's acceptor (acceptor_unix.go, accept0) runs apart from the
// loops: it drains the accept queue until EAGAIN and hands each socket to a
// loop as a task. While the loops lag, accepted descriptors pile up
// without bound (the listen backlog bounds only the kernel's queue, which
// the acceptor keeps empty), OnOpen and its connection cap never see them,
// and an accept that fails with EMFILE stops the whole engine. c1m cannot
// count that pile, but the kernel hands out descriptors lowest first: a
// descriptor numbered at least n is allocated only when 0..n-1 are all in
// use. So a watcher checks, every fdGuardInterval, which is the lowest free
// descriptor at or above the engage line; once it moves up, the process
// holds at least that many files, and the guard attaches a socket filter
// to the listener that drops new SYNs (clients retransmit them after 1 s,
// 3 s, ...). Handshakes already under way complete and are accepted, at
// most a backlog of them, and the margin above the engage line covers
// those and what the acceptor took during one interval. The guard lets
// SYNs in again when the process holds fewer files than the release line
// (hysteresis: the release line is a reserve below the engage line).
//
// With Config.ReusePort there is no guard: each loop accepts for itself
// and runs OnOpen in the same event, so the connection cap holds.
//
// In normal operation it costs two system calls (fcntl F_DUPFD and close)
// every fdGuardInterval on one goroutine. While engaged, it counts the
// open files in /proc/self/fd (about 20 ms at 19,000 files here) no more
// often than every fdGuardCountEvery, and only once the connections the
// loops know of are under the release line.

const (
	// fdGuardInterval is how often the watcher looks; the margin above the
	// engage line must cover the connections accepted in one interval
	// (10 at 5,000 connections/s).
	fdGuardInterval = 2 * time.Millisecond
	// fdGuardCountEvery bounds how often an engaged guard lists
	// /proc/self/fd.
	fdGuardCountEvery = 100 * time.Millisecond
	fdGuardProcFD     = "/proc/self/fd"
)

// synDrop is a classic BPF socket filter that drops TCP segments with SYN
// and without ACK and passes everything else. On a listening socket it
// runs on every segment that reaches the listener (tcp_v4_rcv/tcp_v6_rcv
// call the socket filter with the data at the TCP header), so new
// connections are refused while the final ACK of a handshake under way
// still completes it. Accepted sockets inherit the filter (sk_clone_lock):
// a connection never sees a bare SYN after its handshake, so it drops
// nothing there.
var synDrop = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 13},                   // TCP flags
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 2, K: 0x10},        // ACK: pass
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 0, Jf: 1, K: 0x02}, // SYN: drop
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
}

// fdGuard watches the descriptor table and shuts the listener to new SYNs
// near the open-file limit. Its fields other than engagements belong to
// the watcher goroutine (watchFDs), under fdWatcher.mu.
type fdGuard struct {
	listener  int        // a dup of the listening socket, owned by the guard
	engageAt  int        // the engage line: a descriptor number
	releaseAt int        // the release line: open files
	conns     func() int // connections the loops opened (Server.Connections)
	log       *slog.Logger

	target  int // the lowest free descriptor at or above engageAt when last seen
	engaged bool
	counted time.Time // last listing of /proc/self/fd

	engagements atomic.Int64 // times the guard engaged
}

// fdWatcher runs the checks of every guard of the process (the descriptor
// table is the process's: servers in one process share it) on one
// goroutine, which runs while there is a guard.
var fdWatcher struct {
	// guards the fields below
	mu     sync.Mutex
	guards map[*fdGuard]struct{}
	stop   chan struct{} // closed when the last guard leaves
}

// fdGuardLines returns the engage and release lines for files open files
// and the capacity c: the engage line leaves a backlog and half the
// reserve above it (what may still be accepted after the guard engages);
// the release line is half a reserve lower, the automatic connection cap.
func fdGuardLines(c capacity) (engageAt, releaseAt int) {
	engageAt = c.files - c.backlog - c.reserve/2
	return engageAt, max(c.files-c.backlog-c.reserve, 1)
}

// newFDGuard starts a guard on the listening socket listener, which it
// then owns and closes in stopGuard. Safe for concurrent use.
func newFDGuard(listener int, c capacity, conns func() int, log *slog.Logger) *fdGuard {
	g := &fdGuard{listener: listener, conns: conns, log: log}
	g.engageAt, g.releaseAt = fdGuardLines(c)
	g.target = g.engageAt
	if f, ok := g.lowestFreeAbove(); ok {
		g.target = f
	}
	w := &fdWatcher
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.guards) == 0 {
		w.guards = map[*fdGuard]struct{}{}
		w.stop = make(chan struct{})
		go watchFDs(w.stop)
	}
	w.guards[g] = struct{}{}
	return g
}

// watchFDs checks every guard each fdGuardInterval until stop closes.
func watchFDs(stop chan struct{}) {
	t := time.NewTicker(fdGuardInterval)
	defer t.Stop()
	w := &fdWatcher
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w.mu.Lock()
			for g := range w.guards {
				g.check(now)
			}
			w.mu.Unlock()
		}
	}
}

// check is one look at the descriptor table, on the watcher goroutine.
func (g *fdGuard) check(now time.Time) {
	if !g.engaged {
		f, ok := g.lowestFreeAbove()
		if ok && f <= g.target {
			g.target = f // descriptors above the line were closed
			return
		}
		// The descriptor that was free at the line was taken since: the
		// process held at least target+1 files.
		if g.setFilter(true) {
			g.engaged = true
			g.engagements.Add(1)
			g.log.Warn("open files near the limit: new connections refused until they fall",
				"engage_at", g.engageAt, "release_at", g.releaseAt, "lowest_free", f)
		}
		return
	}
	// The loops' count is a lower bound of the open files: listing them is
	// worth it only once it is under the release line.
	if g.conns() >= g.releaseAt || now.Sub(g.counted) < fdGuardCountEvery {
		return
	}
	g.counted = now
	n, err := countOpenFiles()
	if err != nil || n >= g.releaseAt {
		return
	}
	if g.setFilter(false) {
		g.engaged = false
		g.target = g.engageAt
		if f, ok := g.lowestFreeAbove(); ok {
			g.target = f // descriptors still held above the line do not count again
		}
		g.log.Info("open files under the release line: connections accepted again", "open_files", n)
	}
}

// lowestFreeAbove returns the lowest free descriptor at or above the
// engage line, or false when there is none.
func (g *fdGuard) lowestFreeAbove() (int, bool) {
	f, err := unix.FcntlInt(uintptr(g.listener), unix.F_DUPFD_CLOEXEC, g.engageAt)
	if err != nil {
		return 0, false
	}
	_ = unix.Close(f)
	return f, true
}

// setFilter attaches (on) or detaches the SYN filter to the listener.
func (g *fdGuard) setFilter(on bool) bool {
	var err error
	if on {
		prog := unix.SockFprog{Len: uint16(len(synDrop)), Filter: unsafe.SliceData(synDrop)}
		err = unix.SetsockoptSockFprog(g.listener, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	} else {
		err = unix.SetsockoptInt(g.listener, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	}
	if err != nil {
		g.log.Error("descriptor guard: setting the listener's filter", "on", on, "err", err)
		return false
	}
	return true
}

// stopGuard ends the watcher and closes its listener. Safe for concurrent
// use, once.
func (g *fdGuard) stopGuard() {
	w := &fdWatcher
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.guards, g)
	if len(w.guards) == 0 {
		close(w.stop)
	}
	if g.engaged {
		g.setFilter(false)
	}
	_ = unix.Close(g.listener)
}

// countOpenFiles returns the descriptors open in this process.
func countOpenFiles() (int, error) {
	d, err := os.Open(fdGuardProcFD)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names) - 1, err // less the directory itself
}

// FDGuardEngaged returns how many times the descriptor guard refused new
// connections because the process came near its open-file limit (see
// tuning.md). Safe for concurrent use.
func (s *Server) FDGuardEngaged() int64 {
	if g := s.fdGuard.Load(); g != nil {
		return g.engagements.Load()
	}
	return 0
}
