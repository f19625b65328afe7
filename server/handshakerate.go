package server

import (
	"net/netip"
	"sync"
	"time"
)

// Handshakes per client address (Config.HandshakeRate).

// handshakeSweep is how often the handshake limiter drops the buckets
// that have filled up again: a full bucket is the same as none, so the map
// holds only the addresses seen within the last burst/rate seconds, at
// the cost of one walk over them a second.
const handshakeSweep = time.Second

// handshakeLimiter keeps a token bucket per client address, shared by the
// loops. Safe for concurrent use.
type handshakeLimiter struct {
	rate, burst float64
	// guards the fields below
	mu      sync.Mutex
	buckets map[netip.Addr]*tokenBucket
	swept   time.Time
}

func newHandshakeLimiter(rate float64, burst int) *handshakeLimiter {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(rate))
	}
	return &handshakeLimiter{rate: rate, burst: float64(burst), buckets: make(map[netip.Addr]*tokenBucket)}
}

// take charges one handshake of a at now, or reports false when a is over
// the rate.
func (l *handshakeLimiter) take(a netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= handshakeSweep {
		l.swept = now
		for k, b := range l.buckets {
			if b.refill(now, l.rate, l.burst); b.tokens >= l.burst {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[a]
	if b == nil {
		b = &tokenBucket{tokens: l.burst, last: now}
		l.buckets[a] = b
	}
	return b.take(now, l.rate, l.burst)
}

// size returns the addresses tracked.
func (l *handshakeLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
