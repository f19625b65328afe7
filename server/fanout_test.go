package server_test

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// holdLoop blocks the loop of a one-loop server until the returned release
// is called, so that a test can line up work for one pass of the loop: tasks
// posted meanwhile run in the same pass, before the loop polls for I/O.
func holdLoop(t *testing.T, srv *server.Server) (sh *session.Shard, release func()) {
	t.Helper()
	shards := server.Shards(srv)
	if len(shards) != 1 {
		t.Fatalf("%d shards, want 1", len(shards))
	}
	sh = shards[0]
	held, done := make(chan struct{}), make(chan struct{})
	if err := sh.Post(func() { close(held); <-done }); err != nil {
		t.Fatal(err)
	}
	<-held
	return sh, func() { close(done) }
}

// reset closes c with an RST (SO_LINGER 0): the server's next write to it
// fails, which makes gnet close the connection inside that write.
func reset(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

// TestWriteToResetClients: output queued for clients that have reset their
// connections fails in the write, gnet closes them from inside it, and the
// loop carries on: the other clients get the message and the server still
// accepts. Both kinds of queued output are covered: a message of the
// session's own and a shared publication frame.
func TestWriteToResetClients(t *testing.T) {
	t.Parallel()
	const gone, kept = 8, 2
	for _, tc := range []struct {
		name string
		send func(srv *server.Server, ss []*server.Session)
	}{
		{"publication", func(srv *server.Server, _ []*server.Session) { _, _ = srv.Hub().Publish("t", []byte("news")) }},
		{"message", func(_ *server.Server, ss []*server.Session) {
			for _, s := range ss {
				_ = s.Send(codec.OpText, []byte("news"))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &pushGrabber{Push: server.NewPush(nil), opened: make(chan *server.Session, gone+kept)}
			srv, addr := start(t, g, server.Config{Loops: 1})
			var clients []*wstest.Conn
			var sessions []*server.Session
			for range gone + kept {
				clients = append(clients, wstest.Upgrade(t, addr, "/ws?topic=t"))
				sessions = append(sessions, <-g.opened)
			}
			_, release := holdLoop(t, srv)
			for _, c := range clients[:gone] {
				reset(t, c.Net())
			}
			tc.send(srv, sessions)
			release()

			for _, c := range clients[gone:] {
				if f := c.MustFrame(); string(f.Payload) != "news" {
					t.Fatalf("kept client got %v", f)
				}
			}
			c := wstest.Upgrade(t, addr, "/ws")
			c.Echo("still serving")
		})
	}
}

// pushGrabber is the push handler that also hands over each opened session.
type pushGrabber struct {
	*server.Push
	opened chan *server.Session
}

func (g *pushGrabber) OnOpen(s *server.Session) {
	g.Push.OnOpen(s)
	g.opened <- s
}

// OnMessage echoes like the echo handler, so that Echo can probe the server.
func (g *pushGrabber) OnMessage(s *server.Session, m server.Message) { _ = s.Send(m.Op, m.Data) }

// dataSegsIn returns how many segments with data c's socket has received.
func dataSegsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return info.Data_segs_in
}

// TestPendingOutputLeavesInOneWrite: publications and messages queued for
// one socket in the same pass of the loop leave in one write, in the order
// they were queued, whichever mix of shared frames and own messages they
// are. The client's socket counts the data segments it receives; on
// loopback one write of a few hundred bytes is one segment.
func TestPendingOutputLeavesInOneWrite(t *testing.T) {
	t.Parallel()
	g := &pushGrabber{Push: server.NewPush(nil), opened: make(chan *server.Session, 1)}
	srv, addr := start(t, g, server.Config{Loops: 1})
	c := wstest.Upgrade(t, addr, "/ws?topic=t")
	s := <-g.opened
	c.Echo("warm up") // the response and the echo have arrived
	before := dataSegsIn(t, c.Net())

	hub := srv.Hub()
	_, release := holdLoop(t, srv)
	_, _ = hub.Publish("t", []byte("p1"))
	_ = s.Send(codec.OpText, []byte("m1"))
	_, _ = hub.Publish("t", []byte("p2"))
	_, _ = hub.Publish("t", []byte("p3"))
	release()

	for _, want := range []string{"p1", "m1", "p2", "p3"} {
		if f := c.MustFrame(); string(f.Payload) != want {
			t.Fatalf("got %v, want %q", f, want)
		}
	}
	if segs := dataSegsIn(t, c.Net()) - before; segs != 1 {
		t.Fatalf("4 frames arrived in %d segments, want 1 write", segs)
	}
}

// TestSinglePublicationOneWrite: a publication alone in a socket's queue is
// written from the shared frame in one write too.
func TestSinglePublicationOneWrite(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, server.NewPush(nil), server.Config{Loops: 1})
	c := wstest.Upgrade(t, addr, "/ws?topic=t")
	if _, err := srv.Hub().Publish("t", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if f := c.MustFrame(); string(f.Payload) != "first" {
		t.Fatalf("got %v", f)
	}
	before := dataSegsIn(t, c.Net())
	if _, err := srv.Hub().Publish("t", make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	if f := c.MustFrame(); len(f.Payload) != 300 || f.Op != codec.OpText {
		t.Fatalf("got %v", f)
	}
	if segs := dataSegsIn(t, c.Net()) - before; segs != 1 {
		t.Fatalf("one publication arrived in %d segments", segs)
	}
}

// TestBurstToOneSocket: a burst of publications queued for one socket in
// one pass, more than one writev takes by reference (maxShared), arrives
// whole and in order: the frames past that are copied.
func TestBurstToOneSocket(t *testing.T) {
	t.Parallel()
	const burst = 600
	srv, addr := start(t, server.NewPush(nil), server.Config{Loops: 1})
	c := wstest.Upgrade(t, addr, "/ws?topic=t")
	_, release := holdLoop(t, srv)
	for i := range burst {
		if _, err := srv.Hub().Publish("t", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for i := range burst {
		if f := c.MustFrame(); string(f.Payload) != fmt.Sprintf("m%d", i) {
			t.Fatalf("frame %d: %v", i, f)
		}
	}
}

// TestServerBacklogIsNotTheClients: publications waiting for the server's
// own writes (a burst larger than a client's cap, queued in one pass) are
// not the client's backlog: a client that reads is not evicted as a slow
// consumer because the server had not written yet. Only what the client's
// socket refused counts against its cap.
func TestServerBacklogIsNotTheClients(t *testing.T) {
	t.Parallel()
	const (
		capBytes = 4 << 10
		burst    = 100 // 100 KiB queued at once, 25 times the cap
	)
	srv, addr := start(t, server.NewPush(nil), server.Config{Loops: 1, MaxOutbound: capBytes})
	c := wstest.Upgrade(t, addr, "/ws?topic=t")
	payload := bytes.Repeat([]byte{0xff}, 1<<10) // not UTF-8: a binary message
	_, release := holdLoop(t, srv)
	for range burst {
		if _, err := srv.Hub().Publish("t", payload); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for i := range burst {
		if f := c.MustFrame(); f.Op != codec.OpBinary || len(f.Payload) != len(payload) {
			t.Fatalf("frame %d: %v", i, f)
		}
	}
	if n := evictions(srv, session.ReasonSlowConsumer); n != 0 {
		t.Fatalf("%d slow-consumer evictions of a client that reads", n)
	}
}
