package server

import (
	"errors"
	"net/http"

	"github.com/c1mhq/c1m/poller"
	"github.com/c1mhq/c1m/session"
)

// sendResult is what became of a /send body at the stream session it
// names.
type sendResult int

const (
	sendTaken   sendResult = iota // the session has it
	sendRefused                   // the session is here, but not an open stream of sid's secret
	sendAbsent                    // no session of this node has sid's id
)

// err returns r as Bus.Forward and InboundFunc put it.
func (r sendResult) err() error {
	switch r {
	case sendTaken:
		return nil
	case sendRefused:
		return session.ErrClosed
	}
	return session.ErrNotFound
}

// deliverSend hands data, a /send body, to the stream session id of
// target whose secret is token. Loop-only: on target's loop.
func (s *Server) deliverSend(target *session.Shard, id, token uint64, data []byte) sendResult {
	ss := target.Session(id)
	if ss == nil {
		return sendAbsent
	}
	if ss.State() != session.StateOpen {
		return sendRefused
	}
	tc, ok := ss.Transport().(*conn)
	if !ok || tc.ext == nil || tc.ext.token != token {
		return sendRefused
	}
	if _, stream := tc.ext.tr.(*poller.Stream); !stream {
		return sendRefused
	}
	s.dispatchMessage(tc, message(data))
	return sendTaken
}

// sendToStream hands a /send body to the stream session its sid names,
// on that session's loop, and answers 202 once it has it, or 404. A
// session that is on no loop of this node is looked for on the other
// nodes of a cluster (forwardSend). The connection reads no further
// request until then. Loop-only.
func (s *Server) sendToStream(c *conn, b *bodyReader) {
	id, token, ok := parseSID(b.params.SID)
	if !ok {
		s.answerSend(c, b, session.ErrNotFound)
		return
	}
	// settle runs on c's loop with what the session's loop said.
	settle := func(r sendResult) {
		if r == sendAbsent && s.hub.Bus() != nil {
			s.forwardSend(c, b, id)
			return
		}
		s.answerSend(c, b, r.err())
	}
	target := s.hub.ByID(id)
	switch {
	case target == nil:
		settle(sendAbsent)
		return
	case target == c.sh.Shard:
		settle(s.deliverSend(target, id, token, b.data))
		return
	}
	c.ext.busy = true
	err := target.Post(func() {
		r := s.deliverSend(target, id, token, b.data)
		if c.sh.Post(func() { settle(r) }) != nil {
			_ = c.c.Close() // this loop is stopping
		}
	})
	if err != nil {
		s.answerSend(c, b, session.ErrNotFound)
	}
}

// forwardSend hands a /send body to the node of the cluster that holds
// its session (Bus.Forward), on a goroutine of its own since the bus
// answers within a round trip to NATS or its request timeout (a second),
// and answers the client on c's loop. Loop-only.
func (s *Server) forwardSend(c *conn, b *bodyReader, id uint64) {
	c.ext.busy = true
	bus := s.hub.Bus()
	go func() {
		err := bus.Forward(id, b.params.SID, b.data)
		if c.sh.Post(func() { s.answerSend(c, b, err) }) != nil {
			_ = c.c.Close() // this loop is stopping
		}
	}()
}

// answerSend answers a /send to a stream as its session's node said: 202
// when it took the body; 404 when no session of that id and secret is
// open; 503 with Retry-After when the cluster's bus cannot be reached
// (the client may try again). Loop-only.
func (s *Server) answerSend(c *conn, b *bodyReader, err error) {
	if c.State() == session.StateClosed {
		return // the client left meanwhile
	}
	c.ext.busy = false
	switch {
	case err == nil:
		c.respondKeep(withStatus(b.head, http.StatusAccepted), "", nil)
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrClosed):
		c.respondKeep(withStatus(b.head, http.StatusNotFound), "application/json", []byte(`{"op":"error","error":"no such session"}`))
	default:
		head := withStatus(b.head, http.StatusServiceUnavailable)
		head.Extra += "Retry-After: 1\r\n"
		c.respondKeep(head, "application/json", []byte(`{"op":"error","error":"cluster unavailable"}`))
	}
	if c.c.InboundBuffered() > 0 {
		_ = c.c.Wake(nil)
	}
}

// inboundSend is the hub's InboundFunc: a /send body that another node of
// the cluster took for a session of this one. Safe for concurrent use.
func (s *Server) inboundSend(sid string, data []byte, answer func(error)) {
	id, token, ok := parseSID(sid)
	target := s.hub.ByID(id)
	if !ok || target == nil {
		answer(session.ErrNotFound)
		return
	}
	if target.Post(func() { answer(s.deliverSend(target, id, token, data).err()) }) != nil {
		answer(session.ErrNotFound) // this node is stopping
	}
}
