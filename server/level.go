package server

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Keeping the loops level.
//
// Each loop accepts on its own listener (listen.go), and the kernel picks
// the listener of a new connection by a hash of its addresses: the loops'
// shares drift apart like a random walk (about √n/2 at n connections), and
// a publication's last delivery waits for the busier loop. gnet's main
// reactor, which dealt connections out in turn, is not used: it let
// accepted sockets pile up where the cap could not see them.
//
// So a loop that opens a connection while it holds levelSlack more than
// the lightest loop hands it over before anything is read from it: the
// socket is enrolled on the lightest loop (gnet's EventLoop.Enroll, which
// registers a duplicate of the descriptor there and opens it) and closed
// here. A loop's load counts the handovers still on their way to it, so
// decisions do not depend on how promptly the loops run: connections open
// on loops at most levelSlack apart, and new connections level the loops
// again after closes have set them apart.
//
// A handover costs about ten system calls and a hop through gnet's
// goroutine pool. With the hash placing
// connections, few are handed over: the loops' difference is a random
// walk, and only its steps past levelSlack are undone (about 6% of the
// connections of TestLevelStorm's connect storm). At most maxHandovers
// are on their way at once, each holding up to three descriptors
// (counted against the cap): past that, or while the server drains, a
// connection stays where it was accepted, and so does one reset before
// its handover (Enroll needs its peer's address).
//
// A loop is a candidate once it has had a connection of its own (its
// shard); the hash gives every loop one within the first few.

// levelSlack is how many connections more than the lightest loop a loop
// holds before it hands new ones over: 0.8% of a loop's share at 2,000
// connections on two loops, where the hash alone leaves them 36 apart on
// average; smaller, churn pays for the handovers (a slack of 4 cost 8%
// more CPU per handshake in c1mbench's churn).
const levelSlack = 16

// maxHandovers bounds the handovers on their way at once.
const maxHandovers = 16

// handover is the gnet context of a connection enrolled on a loop by
// another, until its OnOpen there.
type handover struct {
	from, to *shard
	ended    atomic.Bool // taken off the counts
}

// end takes the handover off the counts, once: on the receiving loop when
// the connection opens there (arrived), or on the goroutine that sees
// gnet's answer when it never did. Safe for concurrent use.
func (h *handover) end(s *Server, arrived bool) {
	if !h.ended.CompareAndSwap(false, true) {
		return
	}
	h.to.incoming.Add(-1)
	s.handovers.Add(-1)
	if arrived {
		h.from.Stats().HandedOver.Add(1)
	}
}

// load is the shard's open connections and the handovers on their way to
// it. Safe for concurrent use.
func (sh *shard) load() int64 {
	return sh.Stats().Connections.Load() + sh.incoming.Load()
}

// levelTo returns the loop sh should hand a new connection to, or nil to
// keep it: with one loop there is none, and with reactorAccept (tests)
// gnet deals connections out in turn. On sh's loop (OnOpen).
func (s *Server) levelTo(sh *shard) *shard {
	if s.reactorAccept || s.draining.Load() || s.handovers.Load() >= maxHandovers {
		return nil
	}
	mine := sh.load()
	var to *shard
	lo := mine - levelSlack + 1 // a lighter loop must be at least levelSlack below
	for _, other := range s.hub.Shards() {
		if o := other.Executor().(*shard); o != sh {
			if n := o.load(); n < lo {
				to, lo = o, n
			}
		}
	}
	return to
}

// handOver enrolls gc's socket, accepted on from's loop, on to's loop,
// where it opens with a handover context; the caller closes gc (OnOpen
// answers gnet.Close). On from's loop.
func (s *Server) handOver(gc gnet.Conn, from, to *shard) error {
	nc, err := dupConn(gc.Fd())
	if err != nil {
		return err
	}
	h := &handover{from: from, to: to}
	to.incoming.Add(1)
	s.handovers.Add(1)
	res, err := to.loop.Enroll(gnet.NewContext(context.Background(), h), nc)
	if err != nil {
		h.end(s, false)
		_ = nc.Close()
		return err
	}
	// gnet's pool goroutine closes nc and answers once to's loop has
	// opened the socket or failed to. A loop that has stopped never runs
	// the task: the server's end stops the wait then.
	go func() {
		select {
		case <-res:
		case <-s.done:
			_ = nc.Close()
		}
		h.end(s, false)
	}()
	return nil
}

// dupConn returns a net.Conn on a duplicate of the socket fd, the form
// Enroll takes; closing it leaves fd open. It fails for a socket reset
// before it could be handed over (no peer address, which Enroll needs).
// net.FileConn turns TCP keepalive on, on the socket itself: it is set
// back as it was.
func dupConn(fd int) (net.Conn, error) {
	keepAlive, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), "handover")
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	if nc.RemoteAddr() == nil {
		_ = nc.Close()
		return nil, errNoPeer
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, keepAlive); err != nil {
		_ = nc.Close()
		return nil, os.NewSyscallError("setsockopt", err)
	}
	return nc, nil
}

// errNoPeer is dupConn's answer for a socket already reset.
var errNoPeer = errors.New("c1m: the connection has no peer address (reset)")
