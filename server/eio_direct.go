package server

import (
	"net/http"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// eioConn is a connection whose own session is an Engine.IO session: a
// WebSocket that opened Engine.IO itself (transport=websocket and no sid
// in its first request), which is never polled and never upgraded, so
// nothing but this connection ever reaches the session. It is the conn
// under another type, whose Transport methods speak Engine.IO: the same
// memory, no detached session (eioSess), no link, no second entry in the
// shard's table, and its handler's events dispatched as a WebSocket's
// (pause.go with Config.Workers). A session that started on polling keeps
// the detached design (eioSess), which its upgrade needs.
//
// The heartbeat keeps its state in the session (Session.Beat, the
// session's own ping stamp, which Touch leaves to a Heartbeater): the
// tick of the ping waiting for its pong, or, while none waits, minus the
// tick of the last pong (or of the open); Session.LastSeen is the client's
// last packet. All methods are Loop-only.
type eioConn conn

// States of a connection's Engine.IO session (conn.eio).
const (
	eioNone   = iota // no Engine.IO session of its own
	eioOpen          // open; its handler's OnClose is still to come
	eioEnding        // the server closes it: OnClose after the flush (connExt.end)
	eioEnded         // OnClose ran
)

var (
	_ session.Transport   = (*eioConn)(nil)
	_ session.Heartbeater = (*eioConn)(nil)
)

func (e *eioConn) conn() *conn { return (*conn)(e) }

// eioOpenWebSocket opens an Engine.IO session on a WebSocket (no sid): the
// handshake is answered, and the connection's session becomes the
// Engine.IO session, with its open packet queued. Loop-only.
func (s *Server) eioOpenWebSocket(c *conn, req *codec.Request, n int, r *Request) {
	head, _ := c.c.Peek(n)
	out := c.queue()
	hs, err := c.sh.handshaker.Upgrade(head, out, func() error {
		if err := s.eio.Handler.OnConnect(r); err != nil {
			return err
		}
		// The connection is the session: the user's slot stays on it
		// and returns when it closes (releaseSlots).
		return s.takeUser(c, r)
	})
	if err != nil {
		if codec.RejectStatus(err) == 0 && len(out.B) == 0 {
			out.B = codec.AppendResponse(out.B, http.StatusBadRequest, "", "bad handshake\n")
		}
		c.lingerClose()
		return
	}
	c.ctlEnd = int32(len(c.q.B)) // the 101 answer survives an eviction
	_, _ = c.c.Discard(n)
	c.progress = 0
	if hs.Deflate {
		c.deflate = true
		c.dec.Inflater = codec.NewInflater(hs.ClientWindow)
	}
	c.form = formEIOFrame // the publications it carries by reference
	c.eio = eioOpen
	c.SetTransport((*eioConn)(c))
	c.SetData(r.data)
	// The heartbeat starts at the open, which schedules it: the open
	// packet goes first.
	c.SetBeat(-c.sh.Now())
	e := s.eio
	open := codec.AppendEIOOpen(nil, formatSID(c.ID(), e.sidToken(c.ID())), false,
		e.PingInterval.Milliseconds(), e.PingTimeout.Milliseconds(), e.MaxPayload)
	buf := c.queue()
	buf.B = append(codec.AppendHeader(buf.B, codec.OpText, true, 1+len(open)), byte(codec.EIOOpen))
	buf.B = append(buf.B, open...)
	c.sh.eioWS.Add(1)
	c.MarkOpen()
	if r.user != "" {
		c.SetUser(r.user)
	}
	for _, t := range r.topics {
		c.Subscribe(t)
	}
	c.Written()
	s.dispatchOpen(c)
}

// eioDirect reports whether id and token name a direct WebSocket's
// Engine.IO session on sh, still open: the transport of a request that
// names it does not match. Loop-only (sh's loop).
func (s *Server) eioDirect(sh *shard, id, token uint64) bool {
	ss := sh.Session(id)
	if ss == nil {
		return false
	}
	e, ok := ss.Transport().(*eioConn)
	return ok && e.eio == eioOpen && token == s.eio.sidToken(id)
}

// eioUnknown is the refusal of a poll or a post whose session is not on
// polling (lookupEIO found none): Bad request when the sid names a
// direct WebSocket's session, as the reference server answers a
// transport that does not match, else Unknown sid. Loop-only (home's
// loop).
func (s *Server) eioUnknown(home *shard, id, token uint64) codec.EIOError {
	if s.eioDirect(home, id, token) {
		return codec.EIOBadRequest
	}
	return codec.EIOUnknownSID
}

// WriteMessage implements session.Transport: one message packet, as a
// text frame ("4" and the payload) or a binary frame, under the
// slow-client policy. Loop-only.
func (e *eioConn) WriteMessage(op codec.OpCode, payload []byte) error {
	c := e.conn()
	if c.eio != eioOpen || c.failed {
		return session.ErrClosed
	}
	size := len(payload)
	if op != codec.OpBinary {
		size++
	}
	queued, err := c.admit(codec.HeaderSize(size) + size)
	if err != nil {
		return err
	}
	buf := c.queue()
	before := len(buf.B)
	if op == codec.OpBinary {
		buf.B = codec.AppendFrame(buf.B, codec.OpBinary, payload)
	} else {
		buf.B = append(codec.AppendHeader(buf.B, codec.OpText, true, size), byte(codec.EIOMessage))
		buf.B = append(buf.B, payload...)
	}
	c.sh.Stats().NoteOutbound(queued + len(buf.B) - before)
	return nil
}

// WritePublication implements session.Transport: the publication's
// Engine.IO frame, encoded once for every such connection, queued by
// reference. Loop-only.
func (e *eioConn) WritePublication(p *session.Publication) error {
	c := e.conn()
	if c.eio != eioOpen || c.failed {
		return session.ErrClosed
	}
	return c.WritePublication(p)
}

// Flush implements session.Transport: what is queued leaves; a close the
// server started then runs the handler's OnClose, and the connection
// waits for the client to leave. Loop-only.
func (e *eioConn) Flush() {
	c := e.conn()
	c.Flush()
	if c.eio == eioEnding {
		c.sh.srv.eioDirectEnded(c)
		if !c.failed {
			c.lingerClose()
		}
	}
}

// Subscribed implements session.Transport: Engine.IO has no message for
// it. Loop-only.
func (e *eioConn) Subscribed(string, session.Start) {}

// Ping implements session.Transport; the heartbeat is Heartbeat's.
// Loop-only.
func (e *eioConn) Ping() bool { return false }

// Close implements session.Transport: the server closes the session (the
// session is closing already). The close frame goes after what is
// queued; OnClose runs once it left (Flush), with code and reason.
// Loop-only.
func (e *eioConn) Close(code codec.StatusCode, reason string) {
	c := e.conn()
	if c.eio != eioOpen {
		return
	}
	c.eio = eioEnding
	c.extra().end = &eioEnd{code: code, reason: reason}
	if !code.ValidOnWire() {
		code = codec.StatusNormalClosure
	}
	if !c.failed {
		c.queueControl(func(b []byte) []byte { return codec.AppendClose(b, code, "") })
	}
}

// Abort implements session.Transport: the connection is dropped (its
// close deadline passed); OnClose comes with gnet's OnClose. Loop-only.
func (e *eioConn) Abort() { e.conn().Abort() }

// Heartbeat implements session.Heartbeater, as eioSess.Heartbeat: a ping
// packet every PingInterval after the last pong, and the session closes
// when the pong does not come within PingTimeout of the ping (or of the
// client's last packet). Loop-only.
func (e *eioConn) Heartbeat(now int64) int64 {
	c := e.conn()
	if c.eio != eioOpen {
		return 0
	}
	eng, sh := c.sh.srv.eio, c.sh
	beat := c.Beat()
	if beat <= 0 {
		next := -beat + sh.Ticks(eng.PingInterval)
		if now < next {
			return next
		}
		// A ping is never dropped: the policy applies to messages.
		c.queueControl(func(b []byte) []byte {
			return append(codec.AppendHeader(b, codec.OpText, true, 1), byte(codec.EIOPing))
		})
		c.SetBeat(now) // > 0: now is at least a ping interval after tick 0
		c.Written()
		return now + sh.Ticks(eng.PingTimeout)
	}
	next := max(beat, c.LastSeen()) + sh.Ticks(eng.PingTimeout)
	if now < next {
		return next
	}
	sh.Stats().Evicted(session.ReasonPongTimeout)
	_ = c.Session.Close(codec.StatusGoingAway, "ping timeout")
	return 0 // the close scheduled the closing deadline
}

// readEIO decodes the frames of a direct Engine.IO WebSocket and acts on
// their packets (readEIOFrames). Loop-only.
func (s *Server) readEIO(c *conn) { s.readEIOFrames(c, nil) }

// readEIOFrames decodes the frames of an Engine.IO WebSocket: a direct
// one's (l nil), whose messages it acts on here, or a relay's for link
// l, to which it hands them. Pings are answered here; a close ends the
// connection; a frame that breaks the protocol closes it, and the session
// ends with it, its code abnormal. A direct session's input also stops
// while it is paused. Loop-only.
func (s *Server) readEIOFrames(c *conn, l *eioLink) {
	defer c.dec.Recycle()
	direct := l == nil
	if direct {
		defer s.pausedInput(c)
	}
	for !c.failed && !(direct && c.paused) {
		avail := c.c.InboundBuffered()
		if avail == 0 || (c.progress > 0 && avail < int(c.progress) && avail > partialPeekMax) {
			return
		}
		buf, _ := c.c.Peek(avail)
		f, n, err := c.dec.Decode(buf, &s.eio.limits)
		if err != nil {
			code, reason := codec.StatusProtocolError, "protocol error"
			if pe, ok := err.(*codec.ProtocolError); ok {
				code, reason = pe.Code, pe.Reason
			}
			c.extra().peer = &peerClose{code: codec.StatusAbnormalClosure}
			c.queueControl(func(b []byte) []byte { return codec.AppendClose(b, code, reason) })
			if direct {
				c.MarkClosing()
			}
			c.lingerClose()
			return
		}
		if n == 0 {
			c.progress = int32(f.Need)
			return
		}
		c.progress = 0
		switch f.Op {
		case codec.OpText, codec.OpBinary:
			if direct {
				s.eioDirectMessage(c, f.Op, f.Payload)
			} else {
				l.in(f.Op, f.Payload)
			}
		case codec.OpPing:
			c.queueControl(func(b []byte) []byte { return codec.AppendFrame(b, codec.OpPong, f.Payload) })
			c.Written()
		case codec.OpClose:
			code, reason, _ := codec.ParseClose(f.Payload)
			c.extra().peer = &peerClose{code: code, reason: string(reason)}
			c.queueControl(func(b []byte) []byte { return codec.AppendClose(b, code, "") })
			c.failed = true
			c.Abort()
		}
		_, _ = c.c.Discard(n)
	}
}

// eioDirectMessage acts on a message of a direct Engine.IO WebSocket: a
// text frame is one packet, a binary frame a binary message. What comes
// once the session closes is ignored. Loop-only.
func (s *Server) eioDirectMessage(c *conn, op codec.OpCode, data []byte) {
	if c.eio != eioOpen || c.State() != session.StateOpen {
		return
	}
	c.Touch() // the client's last packet: the heartbeat's stamp is its own
	pkt := codec.EIOPacket{Type: codec.EIOMessage, Binary: true, Data: data}
	if op == codec.OpText {
		var err error
		if pkt, _, err = codec.DecodeEIOText(data, nil); err != nil {
			c.sh.Stats().Evicted(session.ReasonProtocolError)
			_ = c.Session.Close(codec.StatusProtocolError, "parse error")
			return
		}
	}
	switch pkt.Type {
	case codec.EIOMessage:
		st := c.sh.Stats()
		st.MessagesIn.Add(1)
		st.BytesIn.Add(uint64(len(pkt.Data)))
		op := codec.OpText
		if pkt.Binary {
			op = codec.OpBinary
		}
		s.dispatchMessage(c, Message{Op: op, Data: pkt.Data})
	case codec.EIOPong:
		c.SetBeat(-c.sh.Now())
	case codec.EIOClose:
		_ = c.Session.Close(codec.StatusNormalClosure, "transport close")
	case codec.EIOPing:
		// In v4 only the server pings ("invalid heartbeat direction").
		c.sh.Stats().Evicted(session.ReasonProtocolError)
		_ = c.Session.Close(codec.StatusProtocolError, "transport error")
	}
	// Open, upgrade and noop packets mean nothing here.
}

// eioDirectEnded runs the handler's OnClose for a direct Engine.IO
// WebSocket once, when the server's close has left (eioEnding) or the
// connection is gone (code: the peer's close code, or abnormal): the
// reason is the close's, or "transport close". Loop-only.
func (s *Server) eioDirectEnded(c *conn) {
	code, reason := codec.StatusAbnormalClosure, "transport close"
	switch c.eio {
	case eioOpen:
		if c.ext != nil && c.ext.peer != nil {
			code = c.ext.peer.code
		}
	case eioEnding:
		code, reason = c.ext.end.code, c.ext.end.reason
		c.ext.end = nil
	default:
		return
	}
	c.eio = eioEnded
	c.sh.eioWS.Add(-1)
	s.dispatchClose(c, code, reason)
}
