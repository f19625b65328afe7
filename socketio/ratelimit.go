package socketio

import (
	"math"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// ReasonRateLimited is the ack error of a push event over
// PushConfig.EventRate, and the close reason of a client that keeps
// sending them.
const ReasonRateLimited = "rate limited"

// rateStrikes is how many bursts' worth of refused events in a row a
// socket may send before its client is closed: a client that backs off
// after an error ack never meets it, one that ignores the acks is cut off
// after three times its burst.
const rateStrikes = 3

// eventBucket is one socket's token bucket of push events, kept on the
// socket (guarded by its client's mu) once it sent one.
type eventBucket struct {
	tokens  float64
	last    time.Time
	refused int // events refused in a row
}

// limiter is one rate of ServePush's events: every event's
// (PushConfig.EventRate) or the publish events' (PublishRate).
type limiter struct {
	rate, burst float64
	publish     bool   // the publish events' rate, in their own bucket
	reason      string // the ack error, and the close reason
}

func newLimiter(rate float64, burst int, publish bool) *limiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if burst <= 0 {
		b = math.Max(1, math.Ceil(rate))
	}
	l := &limiter{rate: rate, burst: b, publish: publish, reason: ReasonRateLimited}
	if publish {
		l.reason = server.ReasonPublishRateLimited
	}
	return l
}

// allow takes a token of s's bucket and reports whether the event may
// go; a socket past rateStrikes bursts of refusals in a row has its client
// closed with 1008. Each refusal and close is counted, by the reason the
// other transports count it under.
func (l *limiter) allow(s *Socket) bool {
	if l == nil {
		return true
	}
	c := s.c
	now := time.Now()
	c.mu.Lock()
	m := s.extra()
	bp := &m.bucket
	if l.publish {
		bp = &m.pubBucket
	}
	b := *bp
	if b == nil {
		b = &eventBucket{tokens: l.burst, last: now}
		*bp = b
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = math.Min(l.burst, b.tokens+dt.Seconds()*l.rate)
		b.last = now
	}
	ok := b.tokens >= 1
	if ok {
		b.tokens--
		b.refused = 0
	} else {
		b.refused++
	}
	cut := b.refused > int(rateStrikes*l.burst)
	c.mu.Unlock()
	if !ok {
		d := server.DenyCommandRate
		if l.publish {
			d = server.DenyPublishRate
		}
		c.srv.deny(d)
	}
	if cut {
		r := session.ReasonRateLimited
		if l.publish {
			r = session.ReasonPublishRate
		}
		c.onLoop(func() { c.machinery().Shard().Stats().Evicted(r) })
		c.closeAll(ReasonForcedClose, codec.StatusPolicyViolation, l.reason)
	}
	return ok
}
