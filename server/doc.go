// Package server runs c1m's gnet reactor: it accepts connections, reads each
// request head inline on the event loop, answers the WebSocket handshake
// (gobwas/ws, fed exactly the head bytes), decodes frames incrementally from
// gnet's inbound buffer and hands messages to an embedding program through a
// Handler. There is no goroutine, timer or buffer per idle connection.
//
// The same loops serve the HTTP fallbacks (http.go, send.go): a request for
// one of poller's paths opens a session whose output the poller's transport
// frames (SSE, streaming, iframe) or gathers into one reply (polls); the
// connection then reads its next request (keep-alive, pipelining). /send
// reaches a stream's session on another loop through that shard's inbox.
//
// Engine.IO v4 (eio_*.go, Config.Engine) is served on the same loops: an
// Engine.IO session that starts on polling lives on the shard that took
// its handshake, detached from any connection; its polls and posts, which
// arrive on connections of any loop, reach it through its shard's inbox
// and are answered through theirs, and the WebSocket it upgrades to, maybe
// on another loop, relays its frames the same way (eioSess says why the
// session never moves). A WebSocket that opens Engine.IO itself (no sid)
// is never polled nor upgraded: its connection's own session is the
// Engine.IO session (eio_direct.go), at a plain WebSocket's cost.
//
// Concurrency: Handler methods run on the connection's event loop and must
// not block, unless Config.Workers moves them to a worker pool; there they
// may call only the Session methods that are safe from any goroutine, and
// reach the others through Session.Post (see Config.Workers). A *Session's
// ID, Send, Close, Post and OnLoop are safe from any goroutine. Server
// methods say which goroutine may call them.
//
// The embedding API is Handler, Session, Request, Config and Server. A
// Session (session.go) is the server's session.Session under a type that
// shows a handler only what it may do with a client; the transport
// machinery (opening, lingering, deadlines, flushing, the shard) stays on
// session.Session, and gnet's callbacks on an unexported engine.
//
// Output (output.go): a connection queues its own frames in a pooled buffer
// and shared publication frames by reference, and a flush hands them to
// one write or writev. A client whose socket does not keep up is evicted
// with 1008 (or its messages dropped, Config.SlowPolicy) once what is held
// for it passes Config.MaxOutbound; control frames are never dropped.
// Connections are capped below the open-file limit (Config.MaxConns), since
// gnet stops its whole engine when accept(2) fails with EMFILE.
package server
