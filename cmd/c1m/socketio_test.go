package main

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// sioDial opens an Engine.IO WebSocket to the binary's Socket.IO path and
// connects to "/" with auth; it returns the connection and reads past the
// Engine.IO open and the CONNECT answer. Pings are answered by sioRead.
func (in *instance) sioDial(t *testing.T, path, auth string) *websocket.Conn {
	t.Helper()
	host := strings.TrimPrefix(in.clients, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	c, _, err := websocket.DefaultDialer.Dial("ws://"+host+path+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if m := sioRead(t, c); !strings.HasPrefix(m, "0{") {
		t.Fatalf("open %q", m)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
		t.Fatal(err)
	}
	return c
}

// sioRead returns the next Engine.IO packet that is not a ping, answering
// pings.
func sioRead(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "2" {
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(b)
	}
}

// TestSocketIORooms: a Socket.IO client subscribes to a room with the
// subscribe event, and a publication through the API reaches it as an
// event and a plain WebSocket client of the same topic as the bytes.
func TestSocketIORooms(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	sio := in.sioDial(t, "/socket.io/", "")
	if m := sioRead(t, sio); !strings.HasPrefix(m, `40{"sid":"`) || !strings.Contains(m, `"pid":"`) {
		t.Fatalf("connect %q (want a pid: recovery is on by default)", m)
	}
	if err := sio.WriteMessage(websocket.TextMessage, []byte(`421["subscribe","news"]`)); err != nil {
		t.Fatal(err)
	}
	if m := sioRead(t, sio); m != `431[null]` {
		t.Fatalf("subscribe ack %q", m)
	}
	ws := in.dial(t, "?topic=news")
	in.post(t, "/api/publish?topic=news", "hello")
	if m := sioRead(t, sio); !strings.HasPrefix(m, `42["message","hello","`) {
		t.Fatalf("event %q", m)
	}
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "hello" {
		t.Fatalf("WebSocket client: %q %v", p, err)
	}
	// Publishing is the backend's by default.
	if err := sio.WriteMessage(websocket.TextMessage, []byte(`422["publish","news","x"]`)); err != nil {
		t.Fatal(err)
	}
	if m := sioRead(t, sio); m != `432["publishing is not allowed"]` {
		t.Fatalf("publish ack %q", m)
	}
}

// TestSocketIOFlags: -socketio-path moves it, -socketio=false turns it
// off (the path is then no Engine.IO endpoint).
func TestSocketIOFlags(t *testing.T) {
	t.Parallel()
	in := startC1M(t, "-socketio-path", "/rt/", "-socketio-recovery=false")
	c := in.sioDial(t, "/rt/", "")
	if m := sioRead(t, c); !strings.HasPrefix(m, `40{"sid":"`) || strings.Contains(m, "pid") {
		t.Fatalf("connect %q (no pid without recovery)", m)
	}
	off := startC1M(t, "-socketio=false")
	host := strings.TrimPrefix(off.clients, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+host+"/socket.io/?EIO=4&transport=websocket", nil); err == nil {
		t.Fatal("Socket.IO served with -socketio=false")
	} else if resp != nil {
		resp.Body.Close()
	}
}
