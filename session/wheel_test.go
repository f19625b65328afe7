package session

import "testing"

// TestWheelExpireTouchesItsSlot: expire may close, remove or reschedule
// other sessions of the slot the wheel is walking (a write fails, the
// connection's OnClose closes a peer); each session is then checked once,
// at its tick, and never after it left the wheel.
func TestWheelExpireTouchesItsSlot(t *testing.T) {
	t.Parallel()
	const n, at, later = 4, 3, 7
	cases := []struct {
		name string
		// act is what the first expire does to each other session.
		act       func(w *wheel, s *Session)
		wantFired int // expire calls in all
	}{
		{"closes the others", func(w *wheel, s *Session) { s.state = StateClosed; w.remove(s) }, 1},
		{"removes the others", func(w *wheel, s *Session) { w.remove(s) }, 1},
		{"reschedules the others", func(w *wheel, s *Session) { w.schedule(s, later) }, n},
		{"reschedules them to now", func(w *wheel, s *Session) { w.schedule(s, at) }, n},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w wheel
			ss := make([]Session, n)
			for i := range ss {
				ss[i].state = StateOpen
				w.schedule(&ss[i], at)
			}
			fired := map[*Session]int64{}
			first := true
			expire := func(s *Session, now int64) int64 {
				if s.state == StateClosed || s.due != 0 {
					t.Fatalf("expire of a session that left the wheel or is still in it (due %d)", s.due)
				}
				if _, ok := fired[s]; ok {
					t.Fatalf("a session expired twice, at %d and %d", fired[s], now)
				}
				fired[s] = now
				if first {
					first = false
					for i := range ss {
						if o := &ss[i]; o != s {
							tc.act(&w, o)
						}
					}
				}
				return 0
			}
			for to := int64(1); to <= later+1; to++ {
				w.advance(to, expire)
			}
			if len(fired) != tc.wantFired {
				t.Fatalf("%d sessions expired, want %d", len(fired), tc.wantFired)
			}
			if w.count != 0 {
				t.Fatalf("the wheel counts %d sessions, want 0", w.count)
			}
			for i := range w.slots {
				if w.slots[i] != nil {
					t.Fatalf("slot %d still holds a session", i)
				}
			}
		})
	}
}
