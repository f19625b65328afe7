package server

import (
	"runtime"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// fakeGnet is the part of a gnet connection the output queue uses: how
// much gnet holds for the client (behind), and what was written.
type fakeGnet struct {
	gnet.Conn
	behind  int
	written [][]byte
}

func (f *fakeGnet) OutboundBuffered() int { return f.behind }
func (f *fakeGnet) Write(b []byte) (int, error) {
	f.written = append(f.written, append([]byte(nil), b...))
	return len(b), nil
}
func (f *fakeGnet) Writev(bs [][]byte) (int, error) {
	n := 0
	var all []byte
	for _, b := range bs {
		all = append(all, b...)
		n += len(b)
	}
	f.written = append(f.written, all)
	return n, nil
}

// queueConn returns an open connection on a shard run by the calling
// goroutine (locked to its thread, as a loop is), writing to a fakeGnet.
func queueConn(t *testing.T, maxOutbound int) (*conn, *fakeGnet) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	srv := New(nil, &Config{MaxOutbound: maxOutbound})
	sh := &shard{srv: srv}
	sh.Shard = session.NewShard(0, t.Name(), sh, session.Config{})
	sh.BindThread()
	f := &fakeGnet{}
	c := &conn{sh: sh, c: f}
	sh.Open(&c.Session, c)
	c.MarkOpen()
	return c, f
}

func publication(offset uint64, n int) *session.Publication {
	return session.NewPublication("t", offset, make([]byte, n))
}

// TestSharedFramesCountOnceBehind: shared frames pending for a client that
// keeps up are the server's backlog, not the client's; once gnet holds
// anything for the client, they count against its cap, since the next
// flush would copy them there.
func TestSharedFramesCountOnceBehind(t *testing.T) {
	c, f := queueConn(t, 1000)
	for i := range 3 { // 3 × 402 bytes pending, more than the cap
		if err := c.WritePublication(publication(uint64(i+1), 400)); err != nil {
			t.Fatalf("publication %d to a client that keeps up: %v", i, err)
		}
	}
	c.Flush()
	f.behind = 100     // the client's socket refused some of it
	for i := range 2 { // 100 held + 2 × 402 pending: within the cap
		if err := c.WritePublication(publication(uint64(4+i), 400)); err != nil {
			t.Fatalf("publication %d once behind: %v", i, err)
		}
	}
	if err := c.WritePublication(publication(6, 400)); err != ErrSlowConsumer {
		t.Fatalf("100 held + 804 pending + 402 more against a cap of 1000: %v, want ErrSlowConsumer", err)
	}
}

// TestEvictionKeepsWhatPrecedesControl: an eviction keeps the shared frames
// queued before the last control frame, so the client sees no gap before
// it, and drops those after.
func TestEvictionKeepsWhatPrecedesControl(t *testing.T) {
	c, f := queueConn(t, 1<<20)
	a, b := publication(1, 10), publication(2, 10)
	_ = c.WritePublication(a)
	_ = c.WriteMessage(codec.OpText, []byte("own"))
	c.queueControl(func(buf []byte) []byte { return codec.AppendFrame(buf, codec.OpPong, nil) })
	_ = c.WritePublication(b)
	c.slowDisconnect()
	if len(c.q.shared) != 1 || c.q.shared[0].p != a || c.q.sharedBytes != len(c.frameOf(a)) {
		t.Fatalf("after the eviction: %d shared frames, %d bytes; want only the first", len(c.q.shared), c.q.sharedBytes)
	}
	c.Flush()
	want := append(append(append([]byte(nil), c.frameOf(a)...), codec.AppendFrame(nil, codec.OpText, []byte("own"))...),
		codec.AppendFrame(nil, codec.OpPong, nil)...)
	want = codec.AppendClose(want, codec.StatusPolicyViolation, "slow consumer")
	if len(f.written) != 1 || string(f.written[0]) != string(want) {
		t.Fatalf("wrote %q, want %q", f.written, want)
	}
}
