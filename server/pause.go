package server

import (
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// A connection whose event does not fit its worker's queue is paused: the
// loop keeps the event (shard.held), stops decoding the connection's input
// and goes on with its other connections. gnet cannot stop reading one
// socket, so what the client sends meanwhile waits in gnet's inbound
// buffer, up to Config.MaxMessage; past it the client is closed with 1013.
// When the worker's queue is down to half, the worker posts resumeHeld to
// the shard, which hands the held events over and decodes what waited.
//
// Before the pause, a full queue blocked the loop, and with it every
// connection the loop serves.

// dispatch hands fn, an event of c's session, to its worker; when the
// worker's queue is full, fn is held and c's reads pause until the worker
// has room. Loop-only.
func (s *Server) dispatch(c *conn, fn func()) {
	if s.offer(c, fn) {
		return
	}
	if c.sh.held == nil {
		c.sh.held = make(map[*conn]func())
	}
	c.sh.held[c] = fn
	c.paused = true
}

// offer queues fn on the worker of c's session and reports whether it fit;
// when it did not, the worker will post resumeHeld to c's shard once it has
// room. Loop-only.
func (s *Server) offer(c *conn, fn func()) bool {
	id := c.ID()
	if s.workers.tryRun(id, fn) {
		return true
	}
	sh := c.sh
	s.workers.whenRoom(id, sh, func() { _ = sh.Post(sh.resumeHeld) })
	// The worker may have made room, and looked for callbacks, between the
	// first try and the request.
	return s.workers.tryRun(id, fn)
}

// dispatchLast hands over the last event of c's session, after the event
// held for it if any: the connection is gone and can be neither paused
// nor resumed, so this never waits. Loop-only.
func (s *Server) dispatchLast(c *conn, fn func()) {
	held, ok := c.sh.held[c]
	if !ok {
		s.workers.runAll(c.ID(), fn)
		return
	}
	delete(c.sh.held, c)
	s.workers.runAll(c.ID(), held, fn)
}

// resumeHeld hands the held events of the shard's paused connections to
// their workers where there is room now, and reads those connections
// again. Loop-only: it runs as a shard task, whose drain flushes.
func (sh *shard) resumeHeld() {
	if len(sh.held) == 0 {
		return
	}
	conns := make([]*conn, 0, len(sh.held))
	for c := range sh.held {
		conns = append(conns, c)
	}
	for _, c := range conns {
		fn, ok := sh.held[c]
		if !ok || !sh.srv.offer(c, fn) {
			continue // gone meanwhile, or still no room: asked again
		}
		delete(sh.held, c)
		c.paused = false
		sh.srv.readAgain(c)
	}
}

// readAgain decodes the input that waited while c was paused, as OnTraffic
// would have. Loop-only.
func (s *Server) readAgain(c *conn) {
	if st := c.State(); (st == session.StateOpen || st == session.StateClosing) && !c.failed {
		if c.eio != eioNone {
			s.readEIO(c)
		} else {
			s.readFrames(c)
		}
	}
	if c.failed {
		_, _ = c.c.Discard(-1)
		c.shutdownWrite()
	}
}

// pausedInput is what readFrames ends with for a paused connection: the
// bytes that wait prove the peer alive (a pong it cannot send yet), and
// once more than Config.MaxMessage of them wait, the client is closed with
// 1013 (try again later). Loop-only.
func (s *Server) pausedInput(c *conn) {
	if !c.paused || c.failed {
		return
	}
	c.Touch()
	if int64(c.c.InboundBuffered()) <= s.cfg.MaxMessage {
		return
	}
	c.sh.Stats().Evicted(session.ReasonInputBacklog)
	if c.State() == session.StateOpen {
		c.Close(codec.StatusTryAgainLater, "server busy")
	}
	c.MarkClosing()
	c.lingerClose()
}
