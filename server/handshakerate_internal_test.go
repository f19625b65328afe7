package server

import (
	"net/netip"
	"testing"
	"time"
)

// TestHandshakeLimiterBucket: a burst, then the rate, per address; the
// buckets that filled up again are swept, so the map stays bounded.
func TestHandshakeLimiterBucket(t *testing.T) {
	t.Parallel()
	l := newHandshakeLimiter(2, 4)
	t0 := time.Unix(1000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 4 {
		if !l.take(a, t0) {
			t.Fatalf("handshake %d of the burst refused", i)
		}
	}
	if l.take(a, t0) {
		t.Fatal("handshake past the burst taken")
	}
	if !l.take(netip.MustParseAddr("192.0.2.2"), t0) {
		t.Fatal("another address refused")
	}
	if !l.take(a, t0.Add(500*time.Millisecond)) || l.take(a, t0.Add(500*time.Millisecond)) {
		t.Fatal("half a second at 2/s should give exactly one handshake")
	}
	for i := range 100 {
		l.take(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0.Add(time.Second))
	}
	// The sweep at t0+1s dropped 192.0.2.2, full again; a is not.
	if n := l.size(); n != 101 {
		t.Fatalf("%d addresses tracked, want 101", n)
	}
	// Two seconds refill 4 tokens: every bucket is full and goes.
	l.take(a, t0.Add(4*time.Second))
	if n := l.size(); n != 1 {
		t.Fatalf("%d addresses tracked after the sweep, want 1", n)
	}
}
