package server

import "github.com/c1mhq/c1m/codec"

// eioDispatchOpen, eioDispatchMessage and eioDispatchClose call the
// Engine.IO handler on the session's loop, or hand the event to the
// session's worker (eioRun).
func (s *Server) eioDispatchOpen(es *eioSess) {
	h, ss := s.eio.Handler, es.embedder()
	if s.workers == nil {
		h.OnOpen(ss)
		return
	}
	s.eioRun(es, func() { h.OnOpen(ss) })
}

func (s *Server) eioDispatchMessage(es *eioSess, m Message) {
	h, ss := s.eio.Handler, es.embedder()
	if s.workers == nil {
		h.OnMessage(ss, m)
		return
	}
	data := append([]byte(nil), m.Data...) // the handler's own copy
	s.eioRun(es, func() { h.OnMessage(ss, Message{Op: m.Op, Data: data}) })
}

func (s *Server) eioDispatchClose(es *eioSess, code codec.StatusCode, reason string) {
	h, ss := s.eio.Handler, es.embedder()
	if s.workers == nil {
		h.OnClose(ss, code, reason)
		return
	}
	s.eioRun(es, func() { h.OnClose(ss, code, reason) })
}

// eioRun hands fn, an event of es, to its worker, in order after the
// events already waiting for room. An Engine.IO session has no one
// connection whose reads could pause (pause.go), so when the worker is
// full the events wait on the session, a few closures, until the worker
// calls back, and the loop goes on. Loop-only (the session's loop).
func (s *Server) eioRun(es *eioSess, fn func()) {
	if es.waiting == nil {
		if s.workers.tryRun(es.ID(), fn) {
			return
		}
		es.waiting = new([]func())
	}
	*es.waiting = append(*es.waiting, fn)
	es.resumeWorker()
}

// resumeWorker hands the waiting events to the worker while it has room,
// and asks it to call back when it has more. Loop-only.
func (es *eioSess) resumeWorker() {
	if es.waiting == nil {
		return
	}
	w, id := es.sh.srv.workers, es.ID()
	q := *es.waiting
	for len(q) > 0 {
		if !w.tryRun(id, q[0]) {
			w.whenRoom(id, es, func() { _ = es.sh.Post(es.resumeWorker) })
			// The worker may have made room, and looked for callbacks,
			// just before the request.
			if !w.tryRun(id, q[0]) {
				*es.waiting = q
				return
			}
		}
		q[0], q = nil, q[1:]
	}
	es.waiting = nil
}

// EngineSessions returns the number of open Engine.IO sessions on
// long-polling and on WebSocket (Config.Engine). Safe for concurrent use.
func (s *Server) EngineSessions() (polling, websocket int64) {
	for _, ss := range s.hub.Shards() {
		if sh, ok := ss.Executor().(*shard); ok {
			polling += sh.eioPolling.Load()
			websocket += sh.eioWS.Load()
		}
	}
	return polling, websocket
}
