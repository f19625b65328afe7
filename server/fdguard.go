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
// SYNs in again when the process holds fewer files than the release line,
// an eighth of the reserve under the engage line (hysteresis), first for
// a probation of fdGuardProbation that takes one SYN in fdGuardThinning:
// the refused clients retransmit together, and a flood still on would
// otherwise pile up at full speed until the next look. Both lines
// sit above the connection cap: a server at its cap, answering 503 to
// what comes over it, holds its connections and a few other files, and
// the guard must neither engage there nor stay engaged; only the pile of
// accepted sockets a lagging loop has not opened yet takes it across.
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
	// fdGuardProbation is how long after a release the listener takes
	// only one SYN in fdGuardThinning: the clients refused meanwhile
	// retransmit together, and a flood that is still on would otherwise
	// pile up as fast as before for a whole interval or more before the
	// guard engages again.
	fdGuardProbation = time.Second
	fdGuardThinning  = 8 // a power of two
	fdGuardProcFD    = "/proc/self/fd"
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

// synThin is synDrop for all but one SYN in fdGuardThinning, chosen at
// random (the kernel's ancillary load SKF_AD_RANDOM, which
// golang.org/x/sys does not name): the filter of the probation after a
// release, while the clients whose SYNs were dropped retransmit them
// together and a flood may still be on.
var synThin = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 13},                   // TCP flags
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 4, K: 0x10},        // ACK: pass
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 0, Jf: 3, K: 0x02}, // not SYN: pass
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdOff + skfAdRandom},
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 0, Jf: 1, K: fdGuardThinning - 1}, // drop unless the low bits are 0
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
}

// The kernel's ancillary data offset and its random number
// (linux/filter.h: SKF_AD_OFF is -0x1000, SKF_AD_RANDOM 56).
const (
	skfAdOff    = 0xfffff000
	skfAdRandom = 56
)

// The guard's filter on the listener.
const (
	guardOpen = iota // no filter
	guardShut        // synDrop: the guard is engaged
	guardThin        // synThin: the probation after a release
)

// fdGuard watches the descriptor table and shuts the listener to new SYNs
// near the open-file limit. Its fields other than engagements belong to
// the watcher goroutine (watchFDs), under fdWatcher.mu.
type fdGuard struct {
	listener  int        // a dup of the listening socket, owned by the guard
	engageAt  int        // the engage line: a descriptor number
	releaseAt int        // the release line: open files
	conns     func() int // connections the loops opened (Server.Connections)
	log       *slog.Logger

	target   int       // the lowest free descriptor at or above engageAt when last seen
	filter   int       // guardOpen, guardShut or guardThin
	released time.Time // when the probation began (guardThin)
	counted  time.Time // last listing of /proc/self/fd

	engagements atomic.Int64 // times the guard engaged
	// The time the listener was not open (shut or thinned): shutNanos
	// over the spells that ended, and shutStart the start of the one
	// under way, in Unix nanoseconds (0: open).
	shutNanos, shutStart atomic.Int64
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
// reserve above it (what may still be accepted after the guard engages),
// and so half a reserve above the automatic connection cap; the release
// line is an eighth of the reserve lower, which leaves the files of the
// process that are not connections (listeners, epoll, the API, the bus)
// three eighths of the reserve before a server at its cap could not
// release.
func fdGuardLines(c capacity) (engageAt, releaseAt int) {
	engageAt = c.files - c.backlog - c.reserve/2
	return engageAt, max(engageAt-max(c.reserve/8, 2), 1)
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
	if g.filter != guardShut {
		f, ok := g.lowestFreeAbove()
		if ok && f <= g.target {
			g.target = f // descriptors above the line were closed
			if g.filter == guardThin && now.Sub(g.released) >= fdGuardProbation && g.setFilter(guardOpen) {
				g.filter = guardOpen
				g.opened(now)
			}
			return
		}
		// The descriptor that was free at the line was taken since: the
		// process held at least target+1 files.
		if g.setFilter(guardShut) {
			if g.filter == guardOpen {
				g.shutStart.Store(now.UnixNano())
			}
			g.filter = guardShut
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
	if g.setFilter(guardThin) {
		g.filter, g.released = guardThin, now
		g.target = g.engageAt
		if f, ok := g.lowestFreeAbove(); ok {
			g.target = f // descriptors still held above the line do not count again
		}
		g.log.Info("open files under the release line: connections accepted again", "open_files", n)
	}
}

// opened ends a spell of the listener not open, at now. On the watcher
// goroutine.
func (g *fdGuard) opened(now time.Time) {
	if start := g.shutStart.Swap(0); start != 0 {
		g.shutNanos.Add(now.UnixNano() - start)
	}
}

// shutFor returns how long the listener was not open until now, the spell
// under way included. Safe for concurrent use.
func (g *fdGuard) shutFor(now time.Time) time.Duration {
	d := g.shutNanos.Load()
	if start := g.shutStart.Load(); start != 0 {
		d += max(now.UnixNano()-start, 0)
	}
	return time.Duration(d)
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

// setFilter puts filter (guardOpen, guardShut or guardThin) on the
// listener.
func (g *fdGuard) setFilter(filter int) bool {
	var err error
	switch filter {
	case guardOpen:
		err = unix.SetsockoptInt(g.listener, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	default:
		prog := synDrop
		if filter == guardThin {
			prog = synThin
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: unsafe.SliceData(prog)}
		err = unix.SetsockoptSockFprog(g.listener, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
	}
	if err != nil {
		g.log.Error("descriptor guard: setting the listener's filter", "filter", filter, "err", err)
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
	if g.filter != guardOpen {
		g.setFilter(guardOpen)
		g.opened(time.Now())
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

// FDGuardShut returns how long the descriptor guard has kept the listener
// from taking every new connection (shut, or thinned to one SYN in
// fdGuardThinning on probation) since the server started. Safe for
// concurrent use.
func (s *Server) FDGuardShut() time.Duration {
	if g := s.fdGuard.Load(); g != nil {
		return g.shutFor(time.Now())
	}
	return 0
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
