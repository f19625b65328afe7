package server

import "time"

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

// DisableFDGuard runs s without the descriptor guard; call it before Start.
func DisableFDGuard(s *Server) { s.noFDGuard = true }
