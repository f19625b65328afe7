package server_test

import (
	"bytes"
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// step is one piece of a scripted conversation: the bytes the client sends
// and the frames the server answers once it has them all.
type step struct {
	send    []byte
	answers []wstest.Frame
}

// conversation is a request with frames pipelined after it: two text
// messages, a ping inside a fragmented binary message, and a close.
func conversation() []step {
	return []step{
		{send: []byte(wstest.Request("/ws", ""))},
		{send: wstest.Text("first"), answers: []wstest.Frame{{Fin: true, Op: codec.OpText, Payload: []byte("first")}}},
		{send: wstest.Masked(false, 0, codec.OpBinary, []byte{1, 2})},
		{send: wstest.Masked(true, 0, codec.OpPing, []byte("p")), answers: []wstest.Frame{{Fin: true, Op: codec.OpPong, Payload: []byte("p")}}},
		{send: wstest.Masked(true, 0, codec.OpContinuation, []byte{3}), answers: []wstest.Frame{{Fin: true, Op: codec.OpBinary, Payload: []byte{1, 2, 3}}}},
		{send: wstest.Text("héllo"), answers: []wstest.Frame{{Fin: true, Op: codec.OpText, Payload: []byte("héllo")}}},
	}
}

func flatten(steps []step) []byte {
	var b []byte
	for _, s := range steps {
		b = append(b, s.send...)
	}
	return append(b, wstest.Close(4001, "done")...)
}

// reader checks the server's answers in order.
type reader struct {
	t       *testing.T
	c       *wstest.Conn
	upgrade bool // the 101 response was read
	next    int  // answers read so far
	want    []wstest.Frame
}

// readUpTo reads the answers due once the client has sent n bytes.
func (r *reader) readUpTo(steps []step, n int) {
	r.t.Helper()
	end, due := 0, 0
	for i, s := range steps {
		end += len(s.send)
		if end > n {
			break
		}
		if i == 0 && !r.upgrade {
			if resp := r.c.Response(); resp.StatusCode != 101 {
				r.t.Fatalf("status %d", resp.StatusCode)
			}
			r.upgrade = true
		}
		due += len(s.answers)
	}
	for ; r.next < due; r.next++ {
		w := r.want[r.next]
		f := r.c.MustFrame()
		if f.Op != w.Op || f.Fin != w.Fin || !bytes.Equal(f.Payload, w.Payload) {
			r.t.Fatalf("answer %d: got %v %q, want %v %q", r.next, f, f.Payload, w, w.Payload)
		}
	}
}

func newReader(t *testing.T, c *wstest.Conn, steps []step) *reader {
	r := &reader{t: t, c: c}
	for _, s := range steps {
		r.want = append(r.want, s.answers...)
	}
	return r
}

// TestPipelined: frames in the same segment as the request are processed,
// never lost.
func TestPipelined(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{})
	steps := conversation()
	c := wstest.Dial(t, addr)
	c.Write(flatten(steps))
	r := newReader(t, c, steps)
	r.readUpTo(steps, len(flatten(steps)))
	c.ExpectClose(4001)
}

// TestSplitEveryBoundary sends the conversation in two writes split at every
// byte. Before the second write, the client reads every answer the first
// part makes due, so the server has surely handled the first part on its
// own (splits inside the request head cannot be synchronised that way; they
// are covered byte by byte below and in the codec's split tests).
func TestSplitEveryBoundary(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{})
	steps := conversation()
	conv := flatten(steps)
	for i := 1; i < len(conv); i++ {
		c := wstest.Dial(t, addr)
		r := newReader(t, c, steps)
		c.Write(conv[:i])
		r.readUpTo(steps, i)
		c.Write(conv[i:])
		r.readUpTo(steps, len(conv))
		c.ExpectClose(4001)
		_ = c.Net().Close()
	}
	c := wstest.Dial(t, addr)
	r := newReader(t, c, steps)
	for i := range conv {
		c.Write(conv[i : i+1])
		r.readUpTo(steps, i+1)
	}
	c.ExpectClose(4001)
}
