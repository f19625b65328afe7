package server

import (
	"time"

	"github.com/c1mhq/c1m/session"
)

// SetDrainHook lets tests see each drain batch (see Server.drainHook). Call
// it before Start.
func SetDrainHook(s *Server, fn func(shard, batch, closed int)) { s.drainHook = fn }

// SetExpiryDelay holds back the timers that close sessions at their
// token's exp by d, so that a test sees a command that arrives after exp
// and before the timer. Call it before the server starts.
func SetExpiryDelay(p *Push, d time.Duration) { p.expiryDelay = d }

// DrainSteps is the number of drain batches per shard.
const DrainSteps = drainSteps

// EngineStopGrace is the least time Shutdown gives the engine to stop.
const EngineStopGrace = engineStopGrace

// EngineHops returns how many Engine.IO tasks crossed to another loop.
func EngineHops(s *Server) int64 { return s.eioHops.Load() }

// EngineHeldPolls returns how many Engine.IO polls their sessions hold.
func EngineHeldPolls(s *Server) int64 { return s.eioHeld.Load() }

// SessionEntries returns how many sessions the server's shards hold, in
// every state: a connection's own session and a detached one (an
// Engine.IO session that started on polling) count one each.
func SessionEntries(s *Server) int {
	n := 0
	for _, sh := range s.hub.Shards() {
		count := make(chan int, 1)
		if sh.Post(func() {
			k := 0
			sh.EachState(func(*session.Session) { k++ })
			count <- k
		}) != nil {
			continue
		}
		n += <-count
	}
	return n
}

// Shards returns s's shards, the machinery that server.Hub leaves out,
// for tests that act on a loop (post to it, read its counters).
func Shards(s *Server) []*session.Shard { return s.hub.Shards() }

// AcceptInReactor runs s with gnet's main reactor accepting for the loops
// (one listener drained to EAGAIN, each socket queued to a loop as a
// task) instead of each loop accepting for itself; call it before Start.
func AcceptInReactor(s *Server) { s.reactorAccept = true }

// LevelSlack is how many connections more than the lightest loop a loop
// holds before it hands new ones over.
const LevelSlack = levelSlack

// HandedOver returns how many connections s's loops have handed over.
func HandedOver(s *Server) uint64 {
	n := uint64(0)
	for _, sh := range s.hub.Shards() {
		n += sh.Stats().HandedOver.Load()
	}
	return n
}
