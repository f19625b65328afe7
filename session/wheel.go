package session

// wheelSlots is the number of slots in a shard's timing wheel. With the
// default 500 ms tick it covers about 2 minutes; a deadline further out sits
// in the slot it maps to and is put back when that slot comes round early.
const wheelSlots = 256

// wheel is a hashed timing wheel of sessions, one per shard, driven by the
// shard's ticks. A session sits in at most one slot (an intrusive list, so
// scheduling allocates nothing) and is checked when its slot comes due.
// Traffic does not move a session in the wheel: it only updates the
// session's last-seen tick, and the check computes the real next deadline
// from it. Loop-only.
type wheel struct {
	slots [wheelSlots]*Session
	now   int64 // last tick processed
	count int   // sessions scheduled
	// walking heads the list of the slot advance is walking, taken out of
	// the slot: a sentinel, so that remove unlinks a session of that list
	// (expire may close or reschedule any other session) as it would in a
	// slot, and the walk always goes on from a session still in it.
	walking Session
}

// schedule puts s in the slot of tick due (at least the next tick),
// replacing any earlier schedule.
func (w *wheel) schedule(s *Session, due int64) {
	w.remove(s)
	if due <= w.now {
		due = w.now + 1
	}
	s.due = due
	i := due % wheelSlots
	s.wnext, s.wprev = w.slots[i], nil
	if s.wnext != nil {
		s.wnext.wprev = s
	}
	w.slots[i] = s
	w.count++
}

// remove takes s out of the wheel if it is there.
func (w *wheel) remove(s *Session) {
	if s.due == 0 {
		return
	}
	if s.wprev != nil {
		s.wprev.wnext = s.wnext
	} else {
		w.slots[s.due%wheelSlots] = s.wnext
	}
	if s.wnext != nil {
		s.wnext.wprev = s.wprev
	}
	s.wnext, s.wprev, s.due = nil, nil, 0
	w.count--
}

// advance processes every tick up to and including to. For each session
// whose deadline has come it calls expire, which acts and returns the next
// tick to look again (0: none). A session that expire scheduled itself, or
// that closed, is left as it is. expire may also remove, close or
// reschedule other sessions, those of the slot being walked included: a
// session that left the slot meanwhile is not checked in this walk.
func (w *wheel) advance(to int64, expire func(*Session, int64) int64) {
	// After a long stall, visiting each slot once is enough.
	if to-w.now > wheelSlots {
		w.now = to - wheelSlots
	}
	head := &w.walking
	for w.now < to {
		w.now++
		i := w.now % wheelSlots
		// Move the slot's list behind the sentinel: sessions that expire
		// schedules for this slot's later laps go to the emptied slot,
		// not into the walk.
		head.wnext = w.slots[i]
		if head.wnext != nil {
			head.wnext.wprev = head
		}
		w.slots[i] = nil
		for s := head.wnext; s != nil; s = head.wnext {
			due := s.due
			w.remove(s)
			if due > w.now {
				w.schedule(s, due) // a later lap of the wheel
			} else if at := expire(s, w.now); at > 0 && s.due == 0 && s.state != StateClosed {
				w.schedule(s, at)
			}
		}
	}
}
