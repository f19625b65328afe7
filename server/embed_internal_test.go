package server

import (
	"testing"
	"unsafe"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// boundaryHandler records what a handler sees of the session, using the
// methods an embedder calls on every message.
type boundaryHandler struct {
	BuiltinHandler
	got  *Session
	seen uint64
}

func (h *boundaryHandler) OnMessage(s *Session, m Message) {
	h.got = s
	if s.OnLoop() && s.Data() == nil && s.NumTopics() == 0 {
		h.seen += s.ID() + uint64(len(m.Data))
	}
}

// TestHandlerBoundaryAllocatesNothing: a message handed to the handler on
// the loop costs no allocation for the embedding type, and the handler's
// *Session is the connection's own session, not a copy or a wrapper.
func TestHandlerBoundaryAllocatesNothing(t *testing.T) {
	c, _ := queueConn(t, 1<<20)
	h := &boundaryHandler{}
	c.sh.srv.handler = h
	m := Message{Op: codec.OpText, Data: []byte("hello")}
	allocs := testing.AllocsPerRun(1000, func() { c.sh.srv.dispatchMessage(c, m) })
	if allocs != 0 {
		t.Errorf("dispatching a message allocates %.1f times, want 0", allocs)
	}
	if h.seen == 0 {
		t.Fatal("the handler did not see the open session on its loop")
	}
	if unsafe.Pointer(h.got) != unsafe.Pointer(&c.Session) {
		t.Errorf("the handler got %p, not the connection's session %p", h.got, &c.Session)
	}
}

// TestHubFacadeAllocatesNothing: Server.Hub hands out the server's own
// hub, converted in place, and a publication through it costs what one
// through session.Hub costs, not one allocation more.
func TestHubFacadeAllocatesNothing(t *testing.T) {
	s := New(nil, &Config{Addr: "127.0.0.1:0", History: session.HistoryConfig{Size: 8}})
	if unsafe.Pointer(s.Hub()) != unsafe.Pointer(&s.hub) {
		t.Fatalf("Server.Hub returned %p, not the server's hub %p", s.Hub(), &s.hub)
	}
	data := []byte("hello")
	// A topic with history is numbered and kept without subscribers: once
	// its ring is full, each publication costs the same.
	for range 100 {
		if _, err := s.hub.Publish("t", data); err != nil {
			t.Fatal(err)
		}
	}
	raw := testing.AllocsPerRun(1000, func() { _, _ = s.hub.Publish("t", data) })
	facade := testing.AllocsPerRun(1000, func() { _, _ = s.Hub().Publish("t", data) })
	if raw == 0 {
		t.Fatal("a publication through session.Hub allocates nothing: the comparison shows nothing")
	}
	if facade != raw {
		t.Errorf("a publication through server.Hub allocates %.1f times, through session.Hub %.1f", facade, raw)
	}
	// 100, then 1000 and a warm-up run in each AllocsPerRun.
	if _, off := s.Hub().Position("t"); off != 2102 {
		t.Errorf("topic t is at offset %d after 2102 publications", off)
	}
}
