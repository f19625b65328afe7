package server_test

import (
	"sync"
	"testing"

	"github.com/c1mhq/c1m/server"
)

// idRecorder records, by session id, what its handler saw, from the
// workers.
type idRecorder struct {
	*server.Push
	mu     sync.Mutex
	events map[uint64][]string
}

func (h *idRecorder) OnOpen(s *server.Session) {
	h.mu.Lock()
	h.events[s.ID()] = append(h.events[s.ID()], "open")
	h.mu.Unlock()
}

func (h *idRecorder) OnClose(s *server.Session, _ server.StatusCode, _ string) {
	h.mu.Lock()
	h.events[s.ID()] = append(h.events[s.ID()], "close")
	h.mu.Unlock()
}

// TestKeepAliveWithWorkers: with the handler on workers, each request of
// a connection kept alive is its own session, opened once and closed once,
// in that order, whatever the worker each lands on.
func TestKeepAliveWithWorkers(t *testing.T) {
	t.Parallel()
	h := &idRecorder{Push: server.NewPush(nil), events: map[uint64][]string{}}
	srv, addr := start(t, h, server.Config{Workers: 4, Loops: 1})
	c := dialRaw(t, addr)
	const polls = 50
	for range polls {
		c.write(pollRequest("workers"))
		c.expectPollOf("workers")
	}
	c.nc.Close()
	waitGone(t, srv)
	waitFor(t, "every close to reach the handler", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := 0
		for _, ev := range h.events {
			n += len(ev)
		}
		return n == 2*polls
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) != polls {
		t.Fatalf("%d session ids for %d polls", len(h.events), polls)
	}
	for id, ev := range h.events {
		if len(ev) != 2 || ev[0] != "open" || ev[1] != "close" {
			t.Fatalf("session %d: %v, want open then close", id, ev)
		}
	}
}
