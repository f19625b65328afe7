// Package socketio is a Socket.IO v5 server on c1m's reactor: the packet
// codec (packet.go, args.go) and the layer that runs over the Engine.IO
// v4 sessions of the server package (server.EngineConfig), so that
// unchanged socket.io-client code connects to c1m, over long-polling or
// WebSocket.
//
// A Server is the server.Handler of the Engine.IO sessions and the
// encoder of their publications. It serves namespaces (Of), each with a
// connect decision on the handshake's auth payload (Authorize, refusals
// reach the client as connect_error), a connect handler, event handlers
// with acknowledgements both ways, binary attachments, and a disconnect
// handler. Rooms are topics (RoomTopic): joining a room subscribes the
// session to the room's topic, so a publication to it from the backend
// API, the Hub or Room.Emit reaches the room's Socket.IO clients as an
// event (EncodePublication) and the topic's WebSocket, SSE and poll
// clients too. With Config.Recovery a client whose connection drops gets
// its socket, its rooms and the room publications it missed back when it
// reconnects within the window, from topic history; with a RecoveryStore
// (Server.UseStore: broker.KeptStore in a cluster) on any node.
//
//	sio := socketio.New(&socketio.Config{Recovery: &socketio.RecoveryConfig{}})
//	chat := sio.Of("/")
//	chat.Authorize(func(s *socketio.Socket) error {
//		if !validUser(s.Auth()) {
//			return &socketio.ConnectError{Message: "not authorized"}
//		}
//		return nil
//	})
//	chat.On("join", func(s *socketio.Socket, a socketio.Args, ack *socketio.Ack) {
//		room, _ := a.String(0)
//		err := s.Join(room)
//		if ack != nil {
//			_ = ack.Send(err == nil)
//		}
//	})
//	chat.On("say", func(s *socketio.Socket, a socketio.Args, _ *socketio.Ack) {
//		var text string
//		_ = a.Decode(1, &text)
//		room, _ := a.String(0)
//		_, _ = chat.To(room).Emit("said", s.ID(), text) // every node, every transport
//	})
//	srv := server.New(nil, &server.Config{
//		Engine:  sio.EngineConfig(nil),
//		History: session.HistoryConfig{Size: 1000}, // what recovery replays
//	})
//	sio.Attach(srv.Hub())
//	_ = srv.Start()
//
// Concurrency: the handlers run where server.Handler's methods run, on
// the session's event loop (they must not block) or, with
// server.Config.Workers, on its worker; a client's packets are handled in
// order either way. Socket, Ack, Namespace and Room methods are safe for
// concurrent use: what must happen on the session's loop (subscribing to
// a room's topic) is done there directly, or posted to its shard's inbox
// from any other goroutine. Ack callbacks of EmitWithAck that time out
// run on a timer goroutine.
//
// Bad input gets the reference server's answer: a packet that does not
// parse, an unexpected attachment, a packet for a namespace the client
// has not joined close the client's Engine.IO session; a CONNECT to an
// unknown namespace gets CONNECT_ERROR "Invalid namespace". Reassembly of
// attachments is bounded in count (Config.MaxAttachments) and bytes
// (Config.MaxAttachmentBytes), waiting acknowledgements in number
// (Config.MaxPendingAcks) and time, kept disconnected sockets in number
// and time (RecoveryConfig).
package socketio
