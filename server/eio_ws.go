package server

import (
	"net/http"
	"sync/atomic"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// eioLink is a WebSocket that carries an Engine.IO session that started
// on polling: its transport once the session upgraded to it, or an
// upgrade in progress (a probe). The
// connection may live on another loop than the session (see eioSess): then
// frames cross through the two shards' inboxes, in order, each way.
//
// The connection itself is no session: it stays in its handshake state,
// held without a deadline (session.Session.Hold), so that it counts as a
// connection only; the Engine.IO heartbeat tells whether its client is
// alive.
type eioLink struct {
	c    *conn  // the WebSocket; Loop-only on sh's loop
	sh   *shard // c's
	home *shard // the session's
	es   *eioSess
	// inflight is what the session sent and the connection's loop has
	// not written yet; behind is the connection's outbound buffer after
	// its last write. The session counts both against MaxOutbound.
	inflight, behind atomic.Int64
}

// send writes frames to the WebSocket, on its loop. Loop-only (the
// session's loop).
func (l *eioLink) send(frames []byte) {
	if l.sh.OnLoop() {
		l.write(frames)
		return
	}
	n := int64(len(frames))
	l.sh.srv.eioHops.Add(1)
	l.inflight.Add(n)
	if l.sh.Post(func() { l.inflight.Add(-n); l.write(frames) }) != nil {
		l.inflight.Add(-n)
	}
}

// live reports whether the link's connection still carries it. Loop-only
// (the connection's loop).
func (l *eioLink) live() bool {
	c := l.c
	return !c.failed && c.State() != session.StateClosed && c.link() == l
}

// link returns the Engine.IO link the connection relays for, or nil. A
// relay's own session is never an embedder's (it stays in its handshake
// state, held), so its Data slot holds the link: an upgraded WebSocket
// needs no connExt. Loop-only.
func (c *conn) link() *eioLink {
	l, _ := c.Data().(*eioLink)
	return l
}

// write queues frames on the connection and writes them now, so that a
// relay adds no flush pass. Loop-only (the connection's loop).
func (l *eioLink) write(frames []byte) {
	if !l.live() {
		return
	}
	buf := l.c.queue()
	buf.B = append(buf.B, frames...)
	l.c.write()
	if l.c.State() != session.StateClosed {
		l.behind.Store(int64(l.c.c.OutboundBuffered()))
	}
}

// close ends the WebSocket with a close frame of code. Safe from any loop.
func (l *eioLink) close(code codec.StatusCode) {
	onShard(l.sh, func() {
		if !l.live() {
			return
		}
		l.c.queueControl(func(b []byte) []byte { return codec.AppendClose(b, code, "") })
		l.c.lingerClose()
	})
}

// in hands a message from the WebSocket to the session, copied when it
// crosses to another loop (payload is valid only until the frame is
// discarded). Loop-only (the connection's loop).
func (l *eioLink) in(op codec.OpCode, payload []byte) {
	if l.home.OnLoop() {
		l.home.srv.eioFrame(l, op, payload)
		return
	}
	p := append([]byte(nil), payload...)
	l.home.srv.eioHops.Add(1)
	_ = l.home.Post(func() { l.home.srv.eioFrame(l, op, p) })
}

// gone tells the session that the WebSocket closed, with the peer's close
// code. Loop-only (the connection's loop).
func (l *eioLink) gone(code codec.StatusCode) {
	onShard(l.home, func() {
		es := l.es
		switch {
		case es == nil || es.ended:
		case es.probe == l:
			es.probe, es.probed = nil, false // the upgrade failed: the session stays on polling
		case es.ws == l:
			es.finish(code, "transport close", 0)
		}
	})
}

// eioFrame acts on a message from a WebSocket for its session: the
// upgrade dance on a probe, a packet on the session's own WebSocket.
// Loop-only (the session's loop).
func (s *Server) eioFrame(l *eioLink, op codec.OpCode, data []byte) {
	es := l.es
	if es == nil || es.ended || (es.ws != l && es.probe != l) {
		return
	}
	pkt := codec.EIOPacket{Type: codec.EIOMessage, Binary: true, Data: data}
	if op == codec.OpText {
		var err error
		if pkt, _, err = codec.DecodeEIOText(data, nil); err != nil {
			if es.probe == l {
				es.probe, es.probed = nil, false
				l.close(codec.StatusNormalClosure)
				return
			}
			es.parseError()
			return
		}
	}
	if es.probe != l {
		es.onPacket(pkt)
		return
	}
	switch {
	case pkt.Type == codec.EIOPing && string(pkt.Data) == "probe":
		es.lastIn, es.probed = es.sh.Now(), true
		l.send(codec.AppendFrame(nil, codec.OpText, []byte("3probe")))
		if es.poll != nil {
			es.answerPoll([]byte{byte(codec.EIONoop)})
		}
	case pkt.Type == codec.EIOUpgrade:
		es.lastIn = es.sh.Now()
		es.probe, es.ws, es.probed = nil, l, false
		es.sh.eioPolling.Add(-1)
		es.sh.eioWS.Add(1)
		if es.poll != nil {
			es.answerPoll([]byte{byte(codec.EIONoop)})
		}
		es.Written() // what polling had queued leaves on the WebSocket
	default:
		// Anything else during an upgrade cancels it, as on the
		// reference server; the session stays on polling.
		es.probe, es.probed = nil, false
		l.close(codec.StatusNormalClosure)
	}
}

// eioLinked makes c, whose WebSocket handshake of n bytes was answered,
// the relay of link l. Loop-only.
func (s *Server) eioLinked(c *conn, n int, hs codec.Handshake, l *eioLink) {
	c.ctlEnd = int32(len(c.q.B)) // the 101 answer survives an eviction
	_, _ = c.c.Discard(n)
	c.progress = 0
	if hs.Deflate {
		c.deflate = true
		c.dec.Inflater = codec.NewInflater(hs.ClientWindow)
	}
	c.SetData(l)          // see link
	c.form = formEIOFrame // the publications it carries by reference
	c.Hold(0)
	c.Written()
}

// Verdicts of a session on a WebSocket that asks to upgrade it.
const (
	upgradeUnknown  = iota // no such session: 400
	upgradeAccepted        // the WebSocket is the session's probe
	upgradeRefused         // upgraded or upgrading already: answered, then closed
)

// eioUpgrade serves a WebSocket that names a session (an upgrade from
// polling): the session, maybe on another loop, says whether it takes it
// before the handshake is answered; the head waits in the buffer
// meanwhile. Loop-only.
func (s *Server) eioUpgrade(c *conn, req *codec.Request, home *shard, id, token uint64) {
	x := c.extra()
	x.busy = true
	c.Hold(2 * (s.eio.PingInterval + s.eio.PingTimeout))
	l := &eioLink{c: c, sh: c.sh, home: home}
	ok := onShard(home, func() {
		verdict := upgradeUnknown
		es := lookupEIO(home, id, token)
		switch {
		case es == nil:
			if s.eioDirect(home, id, token) {
				verdict = upgradeRefused // a WebSocket from the start
			}
		case es.ws != nil || es.probe != nil:
			verdict = upgradeRefused
		default:
			verdict = upgradeAccepted
			l.es, es.probe = es, l
			es.upgradeBy = es.sh.Now() + es.sh.Ticks(s.eio.UpgradeTimeout)
		}
		onShard(l.sh, func() { s.eioUpgradeAnswered(l, verdict) })
	})
	if !ok {
		s.eioUpgradeAnswered(l, upgradeUnknown)
	}
}

// eioUpgradeAnswered answers the WebSocket handshake of an upgrade once
// its session decided. Loop-only (the connection's loop).
func (s *Server) eioUpgradeAnswered(l *eioLink, verdict int) {
	c := l.c
	if c.State() == session.StateClosed || c.failed || c.ext == nil || !c.ext.busy {
		if verdict == upgradeAccepted {
			l.gone(codec.StatusAbnormalClosure)
		}
		return
	}
	c.ext.busy = false
	buf, _ := c.c.Peek(-1)
	n, err := codec.HeadLen(buf, 0, s.cfg.MaxHead)
	if err != nil || n == 0 {
		c.Abort() // cannot be: the head was complete and nothing was read since
		return
	}
	req, err := codec.ParseRequest(buf[:n])
	if err != nil {
		c.Abort()
		return
	}
	if verdict == upgradeUnknown {
		s.eioRefuse(c, &req, n, codec.EIOUnknownSID, 0, "")
		c.Flush()
		return
	}
	out := c.queue()
	hs, err := c.sh.handshaker.Upgrade(buf[:n], out, func() error { return nil })
	if err != nil {
		if codec.RejectStatus(err) == 0 && len(out.B) == 0 {
			out.B = codec.AppendResponse(out.B, http.StatusBadRequest, "", "bad handshake\n")
		}
		c.lingerClose()
		if verdict == upgradeAccepted {
			l.gone(codec.StatusAbnormalClosure)
		}
		return
	}
	s.eioLinked(c, n, hs, l)
	if verdict == upgradeRefused {
		// The reference server takes the WebSocket and closes it.
		l.close(codec.StatusNormalClosure)
		c.Flush()
		return
	}
	if c.c.InboundBuffered() > 0 {
		_ = c.c.Wake(nil) // frames sent right after the handshake
	}
	c.Flush()
}

// readLink decodes the frames of a WebSocket that relays for an Engine.IO
// session and hands its messages over (readEIOFrames). Loop-only.
func (s *Server) readLink(c *conn, l *eioLink) { s.readEIOFrames(c, l) }
