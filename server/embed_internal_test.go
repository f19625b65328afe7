package server

import (
	"testing"
	"unsafe"

	"github.com/c1mhq/c1m/codec"
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
