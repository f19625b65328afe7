package server

import (
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// eioSess is an Engine.IO session that started on polling. It lives on
// the shard of the loop that took its handshake (its home) for its whole
// life, detached from any connection (session.Shard.OpenDetached): its
// client reaches it through polls, posts and a WebSocket that come and go,
// on any loop. (A session that starts on WebSocket is that connection's
// own: eioConn.) Requests on
// other loops reach it through its shard's inbox and get their answer back
// through their own (eio_poll.go), and a WebSocket on another loop relays
// frames both ways (eio_ws.go). Every field is Loop-only on the home loop.
//
// The session does not move to the WebSocket's loop on an upgrade:
// moving would mean leaving every topic on one shard and joining it on the
// other, with publications in flight between the two inboxes, and handing
// over whatever Send from other goroutines had already queued for the old
// shard; only history could close that gap, and a server without history
// would lose or repeat publications. A relay loses nothing and repeats
// nothing by construction, for the price of a hop through an inbox per
// flush and per inbound message when the WebSocket landed on another loop
// (with L loops, an upgrade lands on the session's loop one time in L).
type eioSess struct {
	session.Session
	sh    *shard
	token uint64 // the secret half of the sid (formatSID)
	// waiting are the handler's events that found the session's worker
	// full (Config.Workers), in order; nil when none wait.
	waiting *[]func()
	// out holds the packets queued for the client, in the transport-neutral
	// records of codec.AppendEIORecord; nil while nothing is queued.
	out   []byte
	poll  *eioWaiter // the poll held for the session, if any
	ws    *eioLink   // the WebSocket the session runs on, once it does
	probe *eioLink   // a WebSocket upgrading the session
	end   *eioEnd    // why the session closes, once Close was called
	// Heartbeat, in shard ticks: the last pong (or the open), the ping
	// waiting for its pong (0: none), the last packet from the client,
	// and the deadline of an upgrade in progress.
	pongAt, pingAt, lastIn, upgradeBy int64
	ended                             bool
	probed                            bool // the probe sent its ping
	// A post's body is arriving, or its packets are on their way here: a
	// second post meanwhile is refused (eioPostBegan), and the session's
	// end drops the post (finish). The post is in the shard's eioPosts,
	// which keeps a session within its size class.
	posting bool
}

// eioEnd is the code and reason of a close the server started, kept until
// the close packet has left.
type eioEnd struct {
	code   codec.StatusCode
	reason string
}

var (
	_ session.Transport   = (*eioSess)(nil)
	_ session.Heartbeater = (*eioSess)(nil)
)

// openEIO opens an Engine.IO session on polling on sh, for a handshake
// that r accepted. It returns the session with its open packet queued. A
// WebSocket that opens Engine.IO itself becomes an Engine.IO session of
// its own instead (eioConn). Loop-only (sh's loop).
func (s *Server) openEIO(sh *shard, r *Request) *eioSess {
	es := &eioSess{sh: sh, token: newToken()}
	sh.OpenDetached(&es.Session, es)
	es.SetData(r.data)
	// The heartbeat starts at the open, which schedules it: the open
	// packet goes first.
	es.pongAt, es.lastIn = sh.Now(), sh.Now()
	e := s.eio
	open := codec.AppendEIOOpen(nil, es.sid(), true,
		e.PingInterval.Milliseconds(), e.PingTimeout.Milliseconds(), e.MaxPayload)
	es.out = codec.AppendEIORecord(es.out, codec.EIOOpen, open, false)
	sh.eioPolling.Add(1)
	es.MarkOpen()
	if r.user != "" {
		es.SetUser(r.user)
	}
	for _, t := range r.topics {
		es.Subscribe(t)
	}
	es.Written()
	return es
}

// embedder returns the session as its Handler sees it.
func (es *eioSess) embedder() *Session { return (*Session)(&es.Session) }

// sid returns the session's Engine.IO session id.
func (es *eioSess) sid() string { return formatSID(es.ID(), es.token) }

// lookupEIO returns the Engine.IO session that sid names on sh, open or
// closing (its close packet waits for a poll), or nil. Loop-only (sh's loop).
func lookupEIO(sh *shard, id, token uint64) *eioSess {
	ss := sh.Session(id)
	if ss == nil || (ss.State() != session.StateOpen && ss.State() != session.StateClosing) {
		return nil
	}
	es, ok := ss.Transport().(*eioSess)
	if !ok || es.token != token || es.ended {
		return nil
	}
	return es
}

// queue adds a text packet of type t to the outbox, or a binary message,
// under the slow-client policy. Loop-only.
func (es *eioSess) queue(t codec.EIOType, data []byte, binary bool) error {
	if err := es.admit(codec.EIORecordSize(len(data))); err != nil {
		return err
	}
	es.out = codec.AppendEIORecord(es.out, t, data, binary)
	return nil
}

// queued is what the client is behind on: the outbox, and what a
// WebSocket on another loop has yet to write.
func (es *eioSess) queued() int {
	n := len(es.out)
	switch l := es.ws; {
	case l == nil:
	case l.sh == es.sh && l.live():
		n += l.c.queued()
	default:
		n += int(l.inflight.Load() + l.behind.Load())
	}
	return n
}

// admit applies the slow-client policy to n more bytes. Loop-only.
func (es *eioSess) admit(n int) error {
	cfg := &es.sh.srv.cfg
	queued := es.queued()
	if queued+n <= cfg.MaxOutbound {
		es.sh.Stats().NoteOutbound(queued + n)
		return nil
	}
	if cfg.SlowPolicy == SlowDrop {
		es.sh.Stats().Dropped.Add(1)
		return ErrDropped
	}
	// The session ends in a task of its own: admit may run in the middle
	// of a fan-out over the topic's subscribers, which ending it now
	// would reorder. Meanwhile it takes nothing more.
	es.sh.Stats().Evicted(session.ReasonSlowConsumer)
	es.out = nil
	if es.end == nil {
		es.end = &eioEnd{code: codec.StatusPolicyViolation, reason: "slow consumer"}
		if es.sh.Post(func() { es.finish(codec.StatusPolicyViolation, "slow consumer", codec.EIOClose) }) != nil {
			es.finish(codec.StatusPolicyViolation, "slow consumer", codec.EIOClose) // the loop stops
		}
	}
	return ErrSlowConsumer
}

// WriteMessage implements session.Transport: one message packet.
// Loop-only.
func (es *eioSess) WriteMessage(op codec.OpCode, payload []byte) error {
	if es.ended || es.end != nil {
		return session.ErrClosed
	}
	return es.queue(codec.EIOMessage, payload, op == codec.OpBinary)
}

// WritePublication implements session.Transport: the message packet that
// EngineConfig.Publication makes of p, encoded once for every Engine.IO
// session. On a WebSocket of the session's own loop, with nothing of the
// session's queued before it, its frame is queued by reference; otherwise
// its record is copied into the outbox. Loop-only.
func (es *eioSess) WritePublication(p *session.Publication) error {
	if es.ended || es.end != nil {
		return session.ErrClosed
	}
	enc := &es.sh.srv.encoders
	if l := es.ws; l != nil && l.sh == es.sh && len(es.out) == 0 && l.live() {
		frame := p.Encoded(formEIOFrame, enc[formEIOFrame])
		if err := es.admit(len(frame)); err != nil {
			return err
		}
		l.c.queuePublication(p, frame)
		l.c.Written()
		return nil
	}
	rec := p.Encoded(formEIORecord, enc[formEIORecord])
	if err := es.admit(len(rec)); err != nil {
		return err
	}
	es.out = append(es.out, rec...)
	return nil
}

// Subscribed implements session.Transport: Engine.IO has no message for
// it. Loop-only.
func (es *eioSess) Subscribed(string, session.Start) {}

// Ping implements session.Transport; the heartbeat is Heartbeat's.
// Loop-only.
func (es *eioSess) Ping() bool { return false }

// Heartbeat implements session.Heartbeater: a ping packet every
// PingInterval after the last pong, and the session closes when the pong
// does not come within PingTimeout of the ping (or of the client's last
// packet, as the reference server counts it). An upgrade that outlived
// UpgradeTimeout is dropped here too. Loop-only.
func (es *eioSess) Heartbeat(now int64) int64 {
	if es.ended {
		return 0
	}
	e, sh := es.sh.srv.eio, es.sh
	if es.probe != nil && now >= es.upgradeBy {
		es.probe.close(codec.StatusNormalClosure)
		es.probe, es.probed = nil, false
	}
	var next int64
	if es.pingAt == 0 {
		next = es.pongAt + sh.Ticks(e.PingInterval)
		if now >= next {
			es.pingAt = now
			// A ping is never dropped: the policy applies to messages.
			es.out = codec.AppendEIORecord(es.out, codec.EIOPing, nil, false)
			es.Written()
			next = now + sh.Ticks(e.PingTimeout)
		}
	} else {
		next = max(es.pingAt, es.lastIn) + sh.Ticks(e.PingTimeout)
		if now >= next {
			sh.Stats().Evicted(session.ReasonPongTimeout)
			es.finish(codec.StatusGoingAway, "ping timeout", codec.EIOClose)
			return 0
		}
	}
	if es.probe != nil && es.upgradeBy < next {
		next = es.upgradeBy
	}
	return next
}

// Close implements session.Transport: the server closes the session. The
// close packet goes after what is queued: on WebSocket at once; on
// polling with the next poll, or the session is dropped at the close
// deadline. Loop-only.
func (es *eioSess) Close(code codec.StatusCode, reason string) {
	if es.ended || es.end != nil {
		return
	}
	es.end = &eioEnd{code: code, reason: reason}
	if es.ws == nil {
		es.out = codec.AppendEIORecord(es.out, codec.EIOClose, nil, false)
	}
}

// Abort implements session.Transport: the session ends now (its close
// deadline passed). Loop-only.
func (es *eioSess) Abort() {
	code, reason := codec.StatusAbnormalClosure, "transport close"
	if es.end != nil {
		code, reason = es.end.code, es.end.reason
	}
	es.finish(code, reason, codec.EIOClose)
}

// Flush implements session.Transport: the outbox leaves on the WebSocket,
// or answers the poll held, up to MaxPayload. Loop-only.
func (es *eioSess) Flush() {
	if es.ended {
		return
	}
	if l := es.ws; l != nil {
		if len(es.out) > 0 {
			frames := codec.AppendEIOFrames(nil, es.out)
			es.out = nil
			l.send(frames)
		}
		if es.end != nil {
			es.finish(es.end.code, es.end.reason, 0)
		}
		return
	}
	if es.poll == nil || len(es.out) == 0 {
		return
	}
	body, n := codec.AppendEIOPolling(nil, es.out, es.sh.srv.eio.MaxPayload)
	if n == len(es.out) {
		es.out = nil
	} else {
		es.out = append([]byte(nil), es.out[n:]...)
	}
	es.answerPoll(body)
	if es.end != nil && es.out == nil {
		es.finish(es.end.code, es.end.reason, 0) // the close packet left
	}
}

// answerPoll answers the poll held with body. Loop-only.
func (es *eioSess) answerPoll(body []byte) {
	w := es.poll
	es.setPoll(nil)
	w.answer(pollText, body)
}

// setPoll records the poll the session holds (nil: none), counted in the
// server's gauge of held polls. Loop-only.
func (es *eioSess) setPoll(w *eioWaiter) {
	switch {
	case es.poll == nil && w != nil:
		es.sh.srv.eioHeld.Add(1)
	case es.poll != nil && w == nil:
		es.sh.srv.eioHeld.Add(-1)
	}
	es.poll = w
}

// finish ends the session: a post whose body is still arriving is
// dropped unanswered, a poll still held is answered with last (a close or
// noop packet), a WebSocket is closed, the handler's OnClose runs and the
// session leaves its shard. Loop-only.
func (es *eioSess) finish(code codec.StatusCode, reason string, last codec.EIOType) {
	if es.ended {
		return
	}
	es.ended = true
	es.out = nil
	if w := es.takePost(nil); w != nil {
		w.abort()
	}
	if es.poll != nil {
		if last == 0 {
			last = codec.EIOClose
		}
		es.answerPoll([]byte{byte(last)})
	}
	wire := code
	if !wire.ValidOnWire() {
		wire = codec.StatusNormalClosure
	}
	if es.probe != nil {
		es.probe.close(codec.StatusNormalClosure)
		es.probe = nil
	}
	if es.ws != nil {
		es.ws.close(wire)
		es.sh.eioWS.Add(-1)
	} else {
		es.sh.eioPolling.Add(-1)
	}
	if st := es.State(); st == session.StateOpen || st == session.StateClosing {
		es.sh.srv.eioDispatchClose(es, code, reason)
	}
	es.sh.srv.eioReleaseSlots(es)
	es.sh.Closed(&es.Session)
}

// onPacket acts on one packet from the client, whatever carried it.
// Loop-only.
func (es *eioSess) onPacket(p codec.EIOPacket) {
	es.lastIn = es.sh.Now()
	switch p.Type {
	case codec.EIOMessage:
		st := es.sh.Stats()
		st.MessagesIn.Add(1)
		st.BytesIn.Add(uint64(len(p.Data)))
		op := codec.OpText
		if p.Binary {
			op = codec.OpBinary
		}
		es.sh.srv.eioDispatchMessage(es, Message{Op: op, Data: p.Data})
	case codec.EIOPong:
		es.pingAt, es.pongAt = 0, es.sh.Now()
	case codec.EIOClose:
		es.finish(codec.StatusNormalClosure, "transport close", codec.EIONoop)
	case codec.EIOPing:
		// In v4 only the server pings ("invalid heartbeat direction").
		es.sh.Stats().Evicted(session.ReasonProtocolError)
		es.finish(codec.StatusProtocolError, "transport error", codec.EIOClose)
	}
	// Open, upgrade and noop packets mean nothing here.
}

// parseError ends the session for a packet that does not decode.
// Loop-only.
func (es *eioSess) parseError() {
	es.sh.Stats().Evicted(session.ReasonProtocolError)
	es.finish(codec.StatusProtocolError, "parse error", codec.EIOClose)
}
