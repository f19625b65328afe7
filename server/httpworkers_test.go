package server_test

import (
	"fmt"
	"net/http"
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

// TestSendWithoutStreamWithWorkers: with the handler on workers, a /send
// without a stream still runs its command before it is answered: the
// publication is made and the reply is the answer's body.
func TestSendWithoutStreamWithWorkers(t *testing.T) {
	t.Parallel()
	_, addr := start(t, server.NewPush(&server.PushConfig{ClientPublish: true}), server.Config{Workers: 2})
	sub := openStream(t, addr, "/stream?topic=wk", "")
	sub.expectStart("wk", false)
	for i := range 5 {
		status, body := send(t, addr, "", fmt.Sprintf(`{"op":"publish","topic":"wk","data":"m%d","id":%d}`, i, i), i%2 == 0)
		if want := fmt.Sprintf(`{"op":"ok","id":%d}`, i); status != http.StatusOK || body != want {
			t.Fatalf("send %d: status %d %q, want %s", i, status, body, want)
		}
	}
	sub.expectPubs("wk", "m", 0, 5, 1)
}
