package server

import (
	"math"
	"sync"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Commands per session (PushConfig.CommandRate).

// ReasonRateLimited is the error reply to a command over
// PushConfig.CommandRate, and the reason of the 1008 close of a session
// that keeps sending them.
const ReasonRateLimited = "rate limited"

// rateStrikes is how many bursts' worth of refused commands in a row a
// session may send before it is closed: a client that backs off after an
// error reply never meets it, one that ignores the replies is cut off
// after three times its burst.
const rateStrikes = 3

// tokenBucket holds up to burst tokens and gains rate of them a second.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket for the time since its last use and takes a
// token, or reports false when it has none.
func (b *tokenBucket) take(now time.Time, rate, burst float64) bool {
	b.refill(now, rate, burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *tokenBucket) refill(now time.Time, rate, burst float64) {
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(burst, b.tokens+dt.Seconds()*rate)
		b.last = now
	}
}

// commandBucket is one session's token bucket.
type commandBucket struct {
	tokenBucket
	refused int // commands refused in a row
}

// commandLimiter holds the buckets of the sessions that sent a command,
// keyed by session id: a session that never sends one costs nothing, and
// the per-connection state does not grow. One mutex for all loops: taken
// once per command only when the limit is on, for tens of nanoseconds.
// Safe for concurrent use.
type commandLimiter struct {
	rate  float64 // tokens per second
	burst float64
	// guards the fields below
	mu      sync.Mutex
	buckets map[uint64]*commandBucket
}

func newCommandLimiter(rate float64, burst int) *commandLimiter {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	return &commandLimiter{rate: rate, burst: float64(burst), buckets: make(map[uint64]*commandBucket)}
}

// verdict is what the limiter says about a command.
type verdict uint8

const (
	verdictRun    verdict = iota // within the rate
	verdictRefuse                // over it: an error reply
	verdictClose                 // over it for too long: close the session
)

// take charges one command of session id at now.
func (l *commandLimiter) take(id uint64, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		b = &commandBucket{tokenBucket: tokenBucket{tokens: l.burst, last: now}}
		l.buckets[id] = b
	}
	if b.take(now, l.rate, l.burst) {
		b.refused = 0
		return verdictRun
	}
	b.refused++
	if b.refused > rateStrikes*int(l.burst) {
		return verdictClose
	}
	return verdictRefuse
}

// forget drops the bucket of session id.
func (l *commandLimiter) forget(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, id)
}

// limitCommand charges a command of s against PushConfig.CommandRate and
// reports whether it may run; if not, it answered with an error reply
// (id is the command's, if it parsed) or closed the session. Loop-only.
func (p *Push) limitCommand(s *Session, data []byte) bool {
	if p.limiter == nil {
		return true
	}
	switch p.limiter.take(s.ID(), time.Now()) {
	case verdictRun:
		return true
	case verdictRefuse:
		var id []byte
		if cmd, err := codec.ParseCommand(data); err == nil {
			id = cmd.ID
		}
		p.deny(DenyCommandRate)
		p.reply(s, id, ReasonRateLimited)
	case verdictClose:
		p.limiter.forget(s.ID())
		s.machinery().Shard().Stats().Evicted(session.ReasonRateLimited)
		_ = s.Close(codec.StatusPolicyViolation, ReasonRateLimited)
	}
	return false
}

// ReasonPublishRateLimited is the error reply to a publish over
// PushConfig.PublishRate, and the reason of the 1008 close of a session
// that keeps sending them.
const ReasonPublishRateLimited = "publish rate limited"

// limitPublish charges a publish command of s against
// PushConfig.PublishRate and reports whether it may be published; if not,
// it answered with an error reply or closed the session. Loop-only.
func (p *Push) limitPublish(s *Session, id []byte) bool {
	if p.pubs == nil {
		return true
	}
	switch p.pubs.take(s.ID(), time.Now()) {
	case verdictRun:
		return true
	case verdictRefuse:
		p.deny(DenyPublishRate)
		p.reply(s, id, ReasonPublishRateLimited)
	case verdictClose:
		p.pubs.forget(s.ID())
		s.machinery().Shard().Stats().Evicted(session.ReasonPublishRate)
		_ = s.Close(codec.StatusPolicyViolation, ReasonPublishRateLimited)
	}
	return false
}
