package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Shutdown stops the server gracefully: every open session gets close 1001
// "server shutting down", spread over Config.DrainSpread, and the server
// waits for the sessions to end until ctx is done or DrainTimeout passes,
// whichever comes first. Meanwhile the listener stays open and each new
// request gets 503 with Retry-After. Then the engine stops: it closes the
// listener and drops what is left. Shutdown waits for that until ctx is
// done, but at least engineStopGrace, so that a drain that used all of ctx
// still ends with a stopped engine. Stopping takes milliseconds: Shutdown
// normally returns within min(ctx, DrainTimeout) plus those. On a server
// not started yet, Shutdown returns ErrNotStarted at once, and a later
// Start or Serve returns ErrServerClosed (as net/http does), so that a
// signal handled before Serve began still stops the server. Safe for
// concurrent use.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.phase.CompareAndSwap(phaseNew, phaseShutEarly) || s.phase.Load() == phaseShutEarly {
		return ErrNotStarted
	}
	select {
	case <-s.booted:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.Addr() == nil {
		return ErrNotStarted
	}
	drainCtx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	if s.draining.CompareAndSwap(false, true) {
		for _, sh := range s.hub.Shards() {
			s.goAway(sh, s.cfg.DrainSpread)
		}
	}
	poll := time.NewTicker(drainPollInterval)
	defer poll.Stop()
	// Wait for the sessions, not the connections: clients that arrive
	// during the drain are answered 503 and linger until they leave,
	// which would hold Shutdown for the whole DrainTimeout.
	sessions := func(st *session.Stats) *atomic.Int64 { return &st.Sessions }
	for s.sumGauge(sessions) > 0 && drainCtx.Err() == nil {
		select {
		case <-poll.C:
		case <-drainCtx.Done():
		}
	}
	stopCtx, stopCancel := engineStopContext(ctx)
	defer stopCancel()
	var err error
	s.stopOnce.Do(func() { err = s.eng.Stop(stopCtx) })
	select {
	case <-s.done:
	case <-stopCtx.Done():
		if err == nil {
			err = stopCtx.Err()
		}
	}
	return err
}

const (
	// drainPollInterval is how often Shutdown looks whether every
	// connection has ended. It adds at most that much to a drain.
	drainPollInterval = 10 * time.Millisecond
	// engineStopGrace is the least time the engine gets to stop its loops
	// after the drain, even when the caller's context is already done:
	// stopping takes milliseconds (each loop wakes, closes its sockets and
	// returns), and only a stopped engine releases the port.
	engineStopGrace = time.Second
)

// engineStopContext bounds the engine's stop by what is left of ctx, but
// gives it at least engineStopGrace.
func engineStopContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) >= engineStopGrace {
		return context.WithDeadline(context.WithoutCancel(ctx), d)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), engineStopGrace)
}

// drainSteps is how many batches a shard's sessions are closed in when the
// drain is spread over time.
const drainSteps = 10

// goAway closes every session of a shard for shutdown with 1001, in
// drainSteps batches spread over spread, so that a million clients do not
// all reconnect to the next node in the same instant. Connections still in
// their handshake are left to get their 503 (readHead) until the last
// batch, which drops those whose request has not arrived by then. Safe for
// concurrent use: the work is posted to the shard.
func (s *Server) goAway(sh *session.Shard, spread time.Duration) {
	step := func(k int) {
		remaining := 0
		sh.EachState(func(ss *session.Session) {
			switch ss.State() {
			case session.StateOpen:
				remaining++
			case session.StateHandshake:
				if c, ok := ss.Transport().(*conn); k == drainSteps-1 && ok && !c.failed {
					c.Abort()
				}
			}
		})
		quota := (remaining + drainSteps - k - 1) / (drainSteps - k) // ceil: the last step takes all
		closed := 0
		sh.EachState(func(ss *session.Session) {
			if closed < quota && ss.State() == session.StateOpen {
				sh.Stats().Evicted(session.ReasonShutdown)
				_ = ss.Close(codec.StatusGoingAway, "server shutting down")
				closed++
			}
		})
		if s.drainHook != nil {
			s.drainHook(sh.Index(), k, closed)
		}
	}
	if spread <= 0 {
		_ = sh.Post(func() { step(drainSteps - 1) })
		return
	}
	for k := range drainSteps {
		// Map iteration order is random, so each batch is a random share.
		time.AfterFunc(spread*time.Duration(k)/drainSteps, func() { _ = sh.Post(func() { step(k) }) })
	}
}
