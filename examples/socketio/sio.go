package main

import (
	"time"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/c1mhq/c1m/socketio"
)

// connectTimeout is how long a client may stay without a namespace, as
// the socket.io-protocol test suite's server sets it.
const connectTimeout = time.Second

// recoveryHistory is what each room's topic keeps with -recovery: more
// than a client misses in any test.
const recoveryHistory = 1000

// newSocketIO returns the Socket.IO layer of the conformance server,
// the server of the socket.io-protocol test suite:
//   - on a connection to "/" and to "/custom", it emits "auth" with the
//     handshake's auth payload;
//   - on "/", "message" is answered by "message-back" with the same
//     arguments, and "message-with-ack" is acked with the same arguments;
//   - besides the suite, on "/" a client joins rooms with
//     emit("subscribe", room, ack) and publishes to one with
//     emit("publish", room, data, ack) (ServePush's events), asks for an
//     acknowledgement from the server's side with "ask", and makes the
//     server disconnect it with "bye", so that the interop tests reach
//     rooms, recovery, acks both ways and server-side disconnects.
func newSocketIO(o options) *socketio.Server {
	cfg := &socketio.Config{ConnectTimeout: connectTimeout}
	if o.recovery {
		cfg.Recovery = &socketio.RecoveryConfig{}
	}
	sio := socketio.New(cfg)
	for _, name := range []string{"/", "/custom"} {
		sio.Of(name).OnConnect(func(s *socketio.Socket) { _ = s.Emit("auth", s.Auth()) })
	}
	main := sio.Of("/")
	socketio.ServePush(main, &socketio.PushConfig{ClientPublish: true})
	main.On("message", func(s *socketio.Socket, a socketio.Args, _ *socketio.Ack) {
		_ = s.EmitArgs("message-back", a)
	})
	main.On("message-with-ack", func(_ *socketio.Socket, a socketio.Args, ack *socketio.Ack) {
		if ack != nil {
			_ = ack.SendArgs(a)
		}
	})
	// An acknowledgement the other way: "ask" makes the server emit
	// "question" with an ack, and the client's answer comes back as
	// "answer" (or "no answer" when it did not answer in time).
	main.On("ask", func(s *socketio.Socket, a socketio.Args, _ *socketio.Ack) {
		args := make([]any, a.Len())
		for i, v := range a.JSON {
			args[i] = v
		}
		_ = s.EmitWithAck("question", askTimeout, func(reply socketio.Args, err error) {
			if err != nil {
				_ = s.Emit("no answer", err.Error())
				return
			}
			_ = s.EmitArgs("answer", reply)
		}, args...)
	})
	// A server-side disconnect: "bye" makes the server leave the
	// namespace, or with true end the whole client.
	main.On("bye", func(s *socketio.Socket, a socketio.Args, _ *socketio.Ack) {
		var all bool
		_ = a.Decode(0, &all)
		s.Disconnect(all)
	})
	return sio
}

// askTimeout bounds the wait for a client's answer to "question".
const askTimeout = 5 * time.Second

// newSocketIOServer returns the Socket.IO server (the default mode) at
// /socket.io/; tests start it in-process.
func newSocketIOServer(o options) (*server.Server, *socketio.Server) {
	sio := newSocketIO(o)
	cfg := baseConfig(o)
	cfg.Engine = sio.EngineConfig(&server.EngineConfig{
		PingInterval: o.pingInterval,
		PingTimeout:  o.pingTimeout,
		MaxPayload:   maxPayload,
	})
	if o.recovery {
		cfg.History = session.HistoryConfig{Size: recoveryHistory}
	}
	srv := server.New(nil, &cfg)
	sio.Attach(srv.Hub())
	return srv, sio
}
