package server_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

const (
	// backpressureCap is MaxOutbound in these tests: small, so that the
	// kernel's buffers (several MB on loopback) fill first and then the
	// server's own queue reaches the cap.
	backpressureCap = 64 << 10
	// chunk is one message; two of them per loop task stay under the cap,
	// so the cap is reached across flushes, as with a real slow client.
	chunk = 16 << 10
)

// onLoop runs fn on s's loop and waits for it; Loop-only calls go there.
func onLoop(t *testing.T, s *server.Session, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := s.Post(func() { fn(); close(done) }); err != nil {
		t.Fatalf("post: %v", err)
	}
	<-done
}

// fillUntil sends chunk-sized messages on s's loop, two per task, until a
// send fails, and returns that error and how many sends were accepted.
func fillUntil(t *testing.T, s *server.Session) (accepted int, err error) {
	t.Helper()
	payload := make([]byte, chunk)
	for i := 0; i < 100_000 && err == nil; i++ {
		onLoop(t, s, func() {
			for range 2 {
				if err = s.Send(codec.OpBinary, payload); err != nil {
					return
				}
				accepted++
			}
		})
	}
	return accepted, err
}

// stalled dials a client that does not read until the test says so. Its
// receive buffer stays the kernel's: a small fixed one (under two segments,
// 64 KiB on loopback) leaves the peer to find the reopened window by
// zero-window probes with exponential backoff, and reading a few MB then
// takes minutes.
func stalled(t *testing.T, addr, path string) *wstest.Conn {
	return wstest.Upgrade(t, addr, path)
}

// quietTiming keeps keepalive pings, which a stalled client would not
// answer, out of the backpressure tests.
var quietTiming = session.Config{PingInterval: -1, CloseTimeout: 3 * wstest.Timeout}

func slowConsumerEvictions(srv *server.Server) (n uint64) {
	for _, sh := range server.Shards(srv) {
		n += sh.Stats().Evictions(session.ReasonSlowConsumer)
	}
	return n
}

func outboundPeak(srv *server.Server) (peak int64) {
	for _, sh := range server.Shards(srv) {
		peak = max(peak, sh.Stats().OutboundPeak.Load())
	}
	return peak
}

// TestSlowDrop: under SlowDrop a send over the cap returns ErrDropped and
// is counted, the session stays open, and once the client reads again it
// gets everything accepted, in order, and then new messages.
func TestSlowDrop(t *testing.T) {
	t.Parallel()
	g := newGrabber()
	srv, addr := start(t, g, server.Config{Loops: 1, MaxOutbound: backpressureCap, SlowPolicy: server.SlowDrop, Timing: quietTiming})
	c := stalled(t, addr, "/ws")
	s := <-g.opened

	accepted, err := fillUntil(t, s)
	if !errors.Is(err, server.ErrDropped) {
		t.Fatalf("after %d sends: %v, want ErrDropped", accepted, err)
	}
	// A drop is counted in Stats.Dropped; the session was not evicted.
	dropped, evicted := srv.Hub().Totals().Dropped, slowConsumerEvictions(srv)
	if dropped == 0 || evicted != 0 {
		t.Fatalf("%d drops and %d slow-consumer evictions counted, want drops only", dropped, evicted)
	}
	var state session.State
	onLoop(t, s, func() { state = s.State() })
	if state != session.StateOpen {
		t.Fatalf("state %v after a drop, want open", state)
	}
	if peak := outboundPeak(srv); peak > backpressureCap {
		t.Fatalf("server queued %d bytes for the client, cap %d", peak, backpressureCap)
	}

	// The client reads again: every accepted message arrives, whole.
	for i := range accepted {
		f := c.MustFrame()
		if f.Op != codec.OpBinary || len(f.Payload) != chunk {
			t.Fatalf("message %d of %d: %v", i, accepted, f)
		}
	}
	// Everything queued has left: a new message gets through.
	onLoop(t, s, func() { err = s.Send(codec.OpText, []byte("again")) })
	if err != nil {
		t.Fatalf("send after the client caught up: %v", err)
	}
	if f := c.MustFrame(); f.Op != codec.OpText || string(f.Payload) != "again" {
		t.Fatalf("got %v, want the new message", f)
	}
}

// TestSlowDisconnectOnTheWire: a client that stops reading is closed with
// 1008 once the cap is reached, and when it reads again it finds the close
// frame after the data the server had already handed to the socket.
func TestSlowDisconnectOnTheWire(t *testing.T) {
	t.Parallel()
	g := newGrabber()
	// quietTiming's close timeout outlasts the client's late reading.
	srv, addr := start(t, g, server.Config{Loops: 1, MaxOutbound: backpressureCap, Timing: quietTiming})
	c := stalled(t, addr, "/ws")
	s := <-g.opened

	accepted, err := fillUntil(t, s)
	if !errors.Is(err, server.ErrSlowConsumer) {
		t.Fatalf("after %d sends: %v, want ErrSlowConsumer", accepted, err)
	}
	if n := slowConsumerEvictions(srv); n != 1 {
		t.Fatalf("%d slow-consumer evictions, want 1", n)
	}
	data, err := c.ReadToClose(codec.StatusPolicyViolation)
	if err != nil {
		t.Fatal(err)
	}
	if data > accepted {
		t.Fatalf("read %d messages, only %d were accepted", data, accepted)
	}
	t.Logf("%d messages accepted, %d read before the close frame", accepted, data)
	c.Write(wstest.Close(codec.StatusPolicyViolation, ""))
	c.ExpectEOF()
	if code := <-g.closed; code != codec.StatusPolicyViolation {
		t.Fatalf("OnClose code %d, want the client's 1008", code)
	}
}

// TestPushSlowSubscriber: a subscriber that stops reading while the API
// publishes to its topic is evicted, the server never holds more than the
// cap for it, and a subscriber on the same loop keeps receiving every
// publication.
func TestPushSlowSubscriber(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, server.NewPush(nil), server.Config{Loops: 1, MaxOutbound: backpressureCap, Timing: quietTiming})
	slow := stalled(t, addr, "/ws?topic=t")
	fast, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=t", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fast.Close() })
	_ = fast.SetReadDeadline(time.Now().Add(3 * wstest.Timeout))

	payload := make([]byte, chunk)
	publish := func(i int) {
		t.Helper()
		copy(payload, fmt.Sprintf("%08d", i))
		if _, err := srv.Hub().Publish("t", append([]byte(nil), payload...)); err != nil {
			t.Fatal(err)
		}
		_, p, err := fast.ReadMessage()
		if err != nil || string(p[:8]) != fmt.Sprintf("%08d", i) {
			t.Fatalf("fast subscriber, publication %d: %q %v", i, p[:min(len(p), 8)], err)
		}
	}
	i := 0
	for ; slowConsumerEvictions(srv) == 0; i++ {
		if i == 100_000 {
			t.Fatalf("the stalled subscriber was not evicted after %d publications", i)
		}
		publish(i)
	}
	for range 10 { // the fast one goes on after the eviction
		publish(i)
		i++
	}
	if peak := outboundPeak(srv); peak > backpressureCap {
		t.Fatalf("server queued %d bytes for one subscriber, cap %d", peak, backpressureCap)
	} else {
		t.Logf("evicted after %d publications; outbound peak %d bytes, cap %d", i-10, peak, backpressureCap)
	}
	// It reads again: after what the socket held, its close frame.
	if _, err := slow.ReadToClose(codec.StatusPolicyViolation); err != nil {
		t.Fatal(err)
	}
	slow.Write(wstest.Close(codec.StatusPolicyViolation, ""))
	slow.ExpectEOF()
}
