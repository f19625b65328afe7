package server_test

import (
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestPingFloodWithoutReading: pongs are never dropped, but a client that
// keeps pinging and never reads cannot make the server queue pongs without
// bound: once its queue passes the cap it is evicted as a slow consumer,
// and the server's peak queue for it stays within the cap.
func TestPingFloodWithoutReading(t *testing.T) {
	t.Parallel()
	const (
		capBytes = 64 << 10
		maxPings = 200_000 // 25 MB of pongs, far past the cap and the socket buffers
	)
	srv, addr := start(t, nil, server.Config{MaxOutbound: capBytes, Loops: 1, Timing: fastTiming})
	c := wstest.Upgrade(t, addr, "/ws")
	// The client's receive buffer keeps its default: shrinking it on an
	// established connection makes the kernel drop segments it already
	// allowed, ACKs included, and the client's own writes then stall.
	ping := wstest.Masked(true, 0, codec.OpPing, make([]byte, 125))
	sent := 0
	for ; sent < maxPings; sent++ {
		if _, err := c.Net().Write(ping); err != nil {
			break // the server closed the connection
		}
		if sent%1024 == 0 && evictions(srv, session.ReasonSlowConsumer) > 0 {
			break
		}
	}
	if n := evictions(srv, session.ReasonSlowConsumer); n == 0 {
		t.Fatalf("%d pings unread, no slow-consumer eviction", sent)
	}
	for _, sh := range server.Shards(srv) {
		if peak := sh.Stats().OutboundPeak.Load(); peak > capBytes {
			t.Fatalf("server queued %d bytes of pongs, cap %d", peak, capBytes)
		}
	}
	t.Logf("evicted after %d pings", sent)
}

// evictions sums the shards' evictions for reason r.
func evictions(srv *server.Server, r session.Reason) uint64 {
	var n uint64
	for _, sh := range server.Shards(srv) {
		n += sh.Stats().Evictions(r)
	}
	return n
}

// TestEvictionKeepsControlFrames: a pong queued before a slow-consumer
// eviction in the same pass still leaves, ahead of the close 1008: the
// eviction drops data, never control frames.
func TestEvictionKeepsControlFrames(t *testing.T) {
	t.Parallel()
	const capBytes = 1 << 10
	_, addr := start(t, nil, server.Config{MaxOutbound: capBytes, Loops: 1, Timing: fastTiming})
	c := wstest.Upgrade(t, addr, "/ws")
	// One segment: a ping, then a message whose echo alone is over the cap.
	in := append(wstest.Masked(true, 0, codec.OpPing, []byte("are you there")),
		wstest.Masked(true, 0, codec.OpBinary, make([]byte, 2*capBytes))...)
	c.Write(in)
	if f := c.MustFrame(); f.Op != codec.OpPong || string(f.Payload) != "are you there" {
		t.Fatalf("got %v, want the pong", f)
	}
	c.ExpectClose(codec.StatusPolicyViolation)
}

// bigGreeter sends its greeting from OnOpen, on the loop, before the 101
// answer has been flushed.
type bigGreeter struct {
	server.BuiltinHandler
	greeting []byte
}

func (g bigGreeter) OnOpen(s *server.Session) { _ = s.Send(codec.OpBinary, g.greeting) }

// TestEvictionKeepsTheUpgrade: a session evicted as a slow consumer before
// its 101 answer left (its handler queued more than the cap in OnOpen)
// still gets the 101 first, then close 1008: the answer is control output
// too.
func TestEvictionKeepsTheUpgrade(t *testing.T) {
	t.Parallel()
	const capBytes = 1 << 10
	_, addr := start(t, bigGreeter{greeting: make([]byte, 2*capBytes)}, server.Config{MaxOutbound: capBytes, Loops: 1, Timing: fastTiming})
	c := wstest.Upgrade(t, addr, "/ws") // fails unless the 101 arrives
	c.ExpectClose(codec.StatusPolicyViolation)
}

// TestOneCloseFrame: a protocol error from a client the server is already
// closing ends the connection without a second close frame.
func TestOneCloseFrame(t *testing.T) {
	t.Parallel()
	g := newGrabber()
	timing := fastTiming
	timing.CloseTimeout = wstest.Timeout
	_, addr := start(t, g, server.Config{Loops: 1, Timing: timing})
	c := wstest.Upgrade(t, addr, "/ws")
	s := <-g.opened
	if err := s.Close(codec.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	if f := c.MustFrame(); f.Op != codec.OpClose {
		t.Fatalf("got %v, want the close frame", f)
	}
	// An unmasked frame: a protocol error while the server is closing.
	c.Write([]byte{0x81, 0x02, 'h', 'i'})
	for {
		f, err := c.ReadFrame()
		if err != nil {
			break // the end of the connection
		}
		if f.Op == codec.OpClose {
			t.Fatalf("a second close frame: %v", f)
		}
	}
}
