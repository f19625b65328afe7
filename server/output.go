package server

import (
	"sync"
	"unsafe"

	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// outQueue is a connection's output between two flushes once it is more
// than one shared publication frame: the connection's own bytes (its
// messages, control frames, HTTP answers) in one buffer, and the shared
// publication frames placed between them by position, so that Flush hands
// everything to one writev without copying a shared frame. Pooled: an idle
// connection holds none.
type outQueue struct {
	bytebufferpool.ByteBuffer               // own bytes
	shared                    []sharedFrame // in order of position
	sharedBytes               int           // the frames' total length
	iov                       [][]byte      // writev scratch
}

// sharedFrame is a publication whose frame goes before the own bytes from
// at on: 16 bytes a pending publication, whatever its size.
type sharedFrame struct {
	p  *session.Publication
	at int32
}

// maxShared bounds the shared frames of one queue: past it, frames are
// copied into the own bytes, which keeps a flush within one writev (the
// kernel takes at most 1024 buffers, and gnet closes the connection when
// writev fails).
const maxShared = 256

// maxPooledQueue is the largest own-bytes buffer a queue keeps when it
// goes back to the pool; a larger one (a burst to a slow client) is left
// to the garbage collector.
const maxPooledQueue = 64 << 10

var queuePool = sync.Pool{New: func() any { return new(outQueue) }}

// release empties q and returns it to the pool.
func (q *outQueue) release() {
	clear(q.shared)
	q.shared, q.sharedBytes = q.shared[:0], 0
	clear(q.iov)
	q.iov = q.iov[:0]
	if cap(q.B) > maxPooledQueue {
		q.B = nil
	}
	q.B = q.B[:0]
	queuePool.Put(q)
}

// queue returns the buffer of the connection's own output, taking a queue
// from the pool if needed; a pending shared frame moves into it first, to
// keep the order.
func (c *conn) queue() *bytebufferpool.ByteBuffer {
	if c.q == nil {
		c.q = queuePool.Get().(*outQueue)
		if c.pub != nil {
			c.q.shared = append(c.q.shared, sharedFrame{p: c.pub})
			c.q.sharedBytes = len(c.frameOf(c.pub))
			c.pub = nil
		}
	}
	return &c.q.ByteBuffer
}

// queueControl appends a control frame with append and remembers where it
// ends: control frames survive a slow-consumer eviction.
func (c *conn) queueControl(append func([]byte) []byte) {
	buf := c.queue()
	buf.B = append(buf.B)
	c.ctlEnd = int32(len(buf.B))
}

// frameOf returns publication p in this connection's wire form.
func (c *conn) frameOf(p *session.Publication) []byte {
	return p.Encoded(int(c.form), c.sh.srv.encoders[c.form])
}

// queued returns the bytes the client is behind on, against MaxOutbound:
// gnet's outbound buffer (what its socket refused, copied), the
// connection's own pending bytes, and, once the client is behind at all
// (gnet holds something for it), the shared frames pending for it, which
// the next flush would copy there too. While the client keeps up, pending
// shared frames are the server's backlog, not the client's: they are
// counted once, in the shard's publication backlog, and a burst the server
// has not written yet does not evict a client that reads.
func (c *conn) queued() int {
	behind := c.c.OutboundBuffered()
	n := behind
	switch {
	case c.q != nil:
		n += len(c.q.B)
		if behind > 0 {
			n += c.q.sharedBytes
		}
	case c.pub != nil && behind > 0:
		n += len(c.frameOf(c.pub))
	}
	return n
}

// WriteMessage implements session.Transport: it encodes one data frame
// (compressed when negotiated and worth it) into the output queue, after
// applying the slow-consumer policy. Loop-only.
func (c *conn) WriteMessage(op codec.OpCode, payload []byte) error {
	if tr := c.transport(); tr != nil {
		return tr.WriteMessage(c, op, payload)
	}
	queued, err := c.admit(len(payload))
	if err != nil {
		return err
	}
	buf := c.queue()
	before := len(buf.B)
	if c.deflate && len(payload) >= c.sh.srv.cfg.Compression.MinSize {
		buf.B = c.deflaterOf().AppendCompressedFrame(buf.B, op, payload)
	} else {
		buf.B = codec.AppendFrame(buf.B, op, payload)
	}
	c.sh.Stats().NoteOutbound(queued + len(buf.B) - before)
	return nil
}

// WritePublication implements session.Transport: the publication's frame in
// this connection's form is encoded once for all connections and queued by
// reference, never copied here. Loop-only.
func (c *conn) WritePublication(p *session.Publication) error {
	frame := c.frameOf(p)
	if tr := c.transport(); tr != nil {
		return tr.WritePublication(c, p, frame)
	}
	queued, err := c.admit(len(frame))
	if err != nil {
		return err
	}
	c.queuePublication(p, frame)
	c.sh.Stats().NoteOutbound(queued + len(frame))
	return nil
}

// queuePublication queues p, whose frame in the connection's form is
// frame, by reference when it can. Loop-only.
func (c *conn) queuePublication(p *session.Publication, frame []byte) {
	switch {
	case c.q == nil && c.pub == nil:
		c.pub = p
	case c.q == nil || len(c.q.shared) < maxShared:
		buf := c.queue()
		c.q.shared = append(c.q.shared, sharedFrame{p: p, at: int32(len(buf.B))})
		c.q.sharedBytes += len(frame)
	default:
		c.q.B = append(c.q.B, frame...)
	}
}

// admit applies the slow-consumer policy to n more bytes and returns what
// is held for the client already.
func (c *conn) admit(n int) (int, error) {
	cfg := &c.sh.srv.cfg
	queued := c.queued()
	if queued+n <= cfg.MaxOutbound {
		return queued, nil
	}
	if cfg.SlowPolicy == SlowDrop {
		c.sh.Stats().Dropped.Add(1)
		return queued, ErrDropped
	}
	c.slowDisconnect()
	return queued, ErrSlowConsumer
}

// slowDisconnect counts a slow-consumer eviction, drops the data queued
// for a client that does not read and closes it with 1008; control frames
// already queued (a pong, a close) stay. The close frame goes after what the kernel and gnet already hold,
// so the client may never see it; the close deadline then drops the
// connection.
func (c *conn) slowDisconnect() {
	c.sh.Stats().Evicted(session.ReasonSlowConsumer)
	if c.transport() != nil {
		// An HTTP stream has no close frame to send, and cutting its
		// queue could split a chunk: the connection is dropped, and the
		// client reconnects from its position.
		c.dropOutput()
		c.failed = true
		_ = c.c.Close()
		return
	}
	c.pub = nil
	if q := c.q; q != nil {
		// Keep what precedes the last control frame, shared frames
		// included, so the client sees no gap before it; drop the rest.
		keep := len(q.shared)
		for i, s := range q.shared {
			if s.at >= c.ctlEnd {
				keep = i
				break
			}
		}
		for _, s := range q.shared[keep:] {
			q.sharedBytes -= len(c.frameOf(s.p))
		}
		clear(q.shared[keep:])
		q.shared = q.shared[:keep]
		q.B = q.B[:c.ctlEnd]
	}
	c.Session.Close(codec.StatusPolicyViolation, "slow consumer")
}

// Flush implements session.Transport: everything queued leaves in one
// write, or one writev when shared frames sit between own bytes. The queue
// is detached first: a failed write closes the connection inside gnet's
// Write, and OnClose must find nothing left to release. gnet copies what
// the socket does not take, so shared frames stay immutable. Loop-only.
func (c *conn) Flush() {
	if tr := c.transport(); tr != nil && !c.failed {
		tr.Flush(c)
	}
	c.write()
	if c.ext != nil && c.ext.ended {
		c.endResponse()
	}
}

// write hands what is queued to the socket. Loop-only.
func (c *conn) write() {
	switch {
	case c.pub != nil:
		frame := c.frameOf(c.pub)
		c.pub = nil
		c.send(frame)
	case c.q != nil:
		q := c.q
		c.q, c.ctlEnd = nil, 0
		iov, prev := q.iov[:0], 0
		for _, s := range q.shared {
			if at := int(s.at); at > prev {
				iov = append(iov, q.B[prev:at])
				prev = at
			}
			iov = append(iov, c.frameOf(s.p))
		}
		if len(q.B) > prev {
			iov = append(iov, q.B[prev:])
		}
		q.iov = iov
		switch len(iov) {
		case 0:
		case 1:
			c.send(iov[0])
		default:
			_, _ = c.c.Writev(iov)
		}
		q.release()
	}
}

// send writes b to the connection's socket. A loop's thread is locked to
// it (gnet's WithLockOSThread), and a write(2) made the usual way tells
// the Go scheduler it may block: when it lasts past a tick of the
// runtime's monitor, the loop's P is handed to another thread, and the
// loop waits for one when the write returns, behind whatever runs there
// (3% of the writes of a 19,000-subscriber fan-out in a runtime trace on
// this 2-core machine, about 16 ms per loop and publication). The socket
// is non-blocking, so the write never blocks: it is made as a raw system
// call, and the loop keeps its P. What the socket does not take, and any
// error, goes through gnet's Write, which keeps the rest for when the
// socket drains or closes the connection. Loop-only.
func (c *conn) send(b []byte) {
	if len(b) > 0 && c.c.OutboundBuffered() == 0 {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.c.Fd()), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == 0 {
			b = b[r:]
		}
	}
	if len(b) > 0 {
		_, _ = c.c.Write(b)
	}
}

// dropOutput releases what is queued without writing it (the connection
// is gone). Loop-only.
func (c *conn) dropOutput() {
	c.pub = nil
	if c.q != nil {
		c.q.release()
		c.q, c.ctlEnd = nil, 0
	}
}
