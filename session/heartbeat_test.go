package session

import (
	"testing"
	"time"
)

// beatTransport is a Heartbeater that pings every 5 ticks after the last
// answer, keeping its state in the session's beat as the server's direct
// Engine.IO WebSocket does (minus the tick of the last answer, or the
// tick of the ping waiting for one).
type beatTransport struct {
	fakeTransport
	s     *Session
	pings []int64
}

func (b *beatTransport) Heartbeat(now int64) int64 {
	if beat := b.s.Beat(); beat <= 0 {
		if next := -beat + 5; now < next {
			return next
		}
		b.pings = append(b.pings, now)
		b.s.SetBeat(now)
	}
	return now + 100
}

// TestTouchKeepsOwnBeat: a session whose transport became a Heartbeater
// (SetTransport) keeps its Beat through Touch, which records the client's
// traffic (LastSeen) and would otherwise clear the keepalive ping stamp:
// a ping waiting for its answer stays waiting, and no second ping goes
// out because the client sent something else.
func TestTouchKeepsOwnBeat(t *testing.T) {
	t.Parallel()
	sh := newTestShard(t, Config{Tick: 100 * time.Millisecond, PingInterval: -1})
	sh.Advance(1)
	var s Session
	tr := &beatTransport{s: &s}
	sh.Open(&s, &tr.fakeTransport)
	s.SetTransport(tr)
	s.SetBeat(-1) // answered at the open
	s.MarkOpen()
	for now := int64(2); now <= 20; now++ {
		sh.Advance(now)
		s.Touch() // traffic on every tick, never the answer
		if s.LastSeen() != now {
			t.Fatalf("tick %d: LastSeen %d", now, s.LastSeen())
		}
	}
	if len(tr.pings) != 1 || tr.pings[0] != 6 || s.Beat() != 6 {
		t.Fatalf("pings at %v, beat %d; want one ping at tick 6, still waiting", tr.pings, s.Beat())
	}
	// A transport that is no Heartbeater keeps the session's own stamp.
	var plain Session
	sh.Open(&plain, &fakeTransport{})
	plain.SetBeat(7)
	if plain.Beat() != 0 {
		t.Fatalf("SetBeat on a plain session: %d", plain.Beat())
	}
}
