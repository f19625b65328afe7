package socketio_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/socketio"
)

// TestWorkers runs the layer on a real server with Config.Workers, so
// that every handler runs on a worker, not the loop: events, acks,
// binary, and rooms fed by the hub, in order.
func TestWorkers(t *testing.T) {
	t.Parallel()
	sio := socketio.New(nil)
	main := sio.Of("/")
	socketio.ServePush(main, nil)
	main.On("echo", func(s *socketio.Socket, a socketio.Args, ack *socketio.Ack) {
		if ack != nil {
			_ = ack.SendArgs(a)
			return
		}
		_ = s.EmitArgs("echo", a)
	})
	srv := server.New(nil, &server.Config{
		Addr: "127.0.0.1:0", Loops: 2, Workers: 4,
		Engine: sio.EngineConfig(&server.EngineConfig{PingInterval: 300 * time.Millisecond, PingTimeout: 5 * time.Second}),
	})
	sio.Attach(srv.Hub())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	dial := func() *websocket.Conn {
		ws, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/socket.io/?EIO=4&transport=websocket", srv.Addr()), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if m := read(t, ws); !strings.HasPrefix(m, "0{") {
			t.Fatalf("open %q", m)
		}
		write(t, ws, "40")
		if m := read(t, ws); !strings.HasPrefix(m, `40{"sid":"`) {
			t.Fatalf("connect %q", m)
		}
		return ws
	}
	ws := dial()
	write(t, ws, `42["echo",1,{"a":"b"}]`)
	expect(t, ws, `42["echo",1,{"a":"b"}]`)
	write(t, ws, `4217["echo","x"]`)
	expect(t, ws, `4317["x"]`)
	write(t, ws, `451-["echo",{"_placeholder":true,"num":0}]`)
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{7, 8}); err != nil {
		t.Fatal(err)
	}
	expect(t, ws, `451-["echo",{"_placeholder":true,"num":0}]`)
	if typ, b, err := ws.ReadMessage(); err != nil || typ != websocket.BinaryMessage || string(b) != "\x07\x08" {
		t.Fatalf("attachment %d %v %v", typ, b, err)
	}
	write(t, ws, `421["subscribe","news"]`)
	expect(t, ws, `431[null]`)
	for i := range 20 {
		if _, err := srv.Hub().Publish("news", fmt.Appendf(nil, "p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		expect(t, ws, fmt.Sprintf(`42["message","p%d"]`, i))
	}
}

// read returns the next Engine.IO packet that is not a ping, answering
// pings.
func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "2" {
			write(t, ws, "3")
			continue
		}
		return string(b)
	}
}

func write(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	if got := read(t, ws); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestEncodedOnce: a publication to a room of several Socket.IO clients,
// on both loops, is encoded once (the Engine.IO layer shares the bytes).
// The kernel puts each connection on a loop by a hash of its addresses:
// twelve clients leave a loop without one once in 2,048 runs.
func TestEncodedOnce(t *testing.T) {
	t.Parallel()
	sio := socketio.New(nil)
	socketio.ServePush(sio.Of("/"), nil)
	srv := server.New(nil, &server.Config{Addr: "127.0.0.1:0", Loops: 2, Engine: sio.EngineConfig(nil)})
	sio.Attach(srv.Hub())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	var clients []*websocket.Conn
	for range 12 {
		ws, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/socket.io/?EIO=4&transport=websocket", srv.Addr()), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		read(t, ws)
		write(t, ws, "40")
		read(t, ws)
		write(t, ws, `421["subscribe","news"]`)
		expect(t, ws, `431[null]`)
		clients = append(clients, ws)
	}
	before := sio.Stats().Encoded
	if _, err := srv.Hub().Publish("news", []byte("once")); err != nil {
		t.Fatal(err)
	}
	for _, ws := range clients {
		expect(t, ws, `42["message","once"]`)
	}
	if n := sio.Stats().Encoded - before; n != 1 {
		t.Fatalf("encoded %d times for %d clients, want 1", n, len(clients))
	}
}
