package socketio_test

import (
	"encoding/json"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/c1mhq/c1m/socketio"
)

// A chat: clients join rooms and say things to them; what is said goes
// through the room's topic, so it reaches every node and every transport.
func Example() {
	sio := socketio.New(&socketio.Config{Recovery: &socketio.RecoveryConfig{}})
	chat := sio.Of("/")
	chat.Authorize(func(s *socketio.Socket) error {
		var auth struct{ Name string }
		if json.Unmarshal(s.Auth(), &auth) != nil || auth.Name == "" {
			return &socketio.ConnectError{Message: "who are you?", Data: map[string]string{"need": "name"}}
		}
		s.SetData(auth.Name)
		return nil
	})
	chat.On("join", func(s *socketio.Socket, a socketio.Args, ack *socketio.Ack) {
		room, _ := a.String(0)
		err := s.Join(room)
		if ack != nil {
			_ = ack.Send(err == nil)
		}
	})
	chat.On("say", func(s *socketio.Socket, a socketio.Args, _ *socketio.Ack) {
		room, _ := a.String(0)
		text, _ := a.String(1)
		_, _ = chat.To(room).Emit("said", s.ID(), text)
	})
	srv := server.New(nil, &server.Config{
		Addr:    "127.0.0.1:0",
		Engine:  sio.EngineConfig(nil),
		History: session.HistoryConfig{Size: 1000}, // what recovery replays
	})
	sio.Attach(srv.Hub())
	_ = srv // srv.Start() serves it
}
