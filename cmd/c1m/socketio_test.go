package main

import (
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/nodetest"

	"github.com/golang-jwt/jwt/v5"
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

// runNode runs a Node script of test/interop/node and fails the test when
// it reports a failure; it returns the report line.
func runNode(t *testing.T, script string, args ...string) string {
	t.Helper()
	return nodetest.Run(t, "../..", script, 90*time.Second, args...)
}

// clientURL is the binary's client listener as http://host:port.
func (in *instance) clientURL() string {
	host := strings.TrimPrefix(in.clients, "ws://")
	return "http://" + host[:strings.IndexByte(host, '/')]
}

// TestSocketIOClientRooms: the npm socket.io-client subscribes to a room
// of the binary, and publications through /api/publish reach it as
// events and a WebSocket client (npm ws) of the topic as the bytes, on
// each transport (sio-c1m.mjs rooms).
func TestSocketIOClientRooms(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	for _, tr := range []string{"polling", "websocket", "upgrade"} {
		t.Run(tr, func(t *testing.T) {
			t.Logf("%s", runNode(t, "sio-c1m.mjs", in.clientURL(), in.api, "rooms", tr))
		})
	}
}

// TestSocketIOClientRecovery: the npm socket.io-client's connection drops
// while the API publishes; it reconnects within the window, recovers its
// id and room, and has every publication once, in order (sio-c1m.mjs
// recovery).
func TestSocketIOClientRecovery(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	for _, tr := range []string{"polling", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			t.Logf("%s", runNode(t, "sio-c1m.mjs", in.clientURL(), in.api, "recovery", tr))
		})
	}
}

// TestSocketIOClientRecoveryEveryRoom: the npm socket.io-client, in two
// rooms, behind a proxy that holds back what the server sends while
// publications to both rooms are written to its connection; the proxy
// cuts the connection, more are published, and the client recovers every
// one of them in each room, once, in order (sio-c1m.mjs everyroom).
func TestSocketIOClientRecoveryEveryRoom(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	// WebSocket: a cut polling connection leaves Node's polling client
	// waiting for its poll's answer until its ping timeout.
	t.Logf("%s", runNode(t, "sio-c1m.mjs", in.clientURL(), in.api, "everyroom", "websocket"))
}

// TestSocketIOClientAuth: with -auth required, the npm socket.io-client's
// auth token decides: a bad or missing one gets connect_error with the
// reason, a good one connects and its claims decide its rooms
// (sio-c1m.mjs auth).
func TestSocketIOClientAuth(t *testing.T) {
	t.Parallel()
	secret := "socketio-secret-0123456789abcdef01"
	in := startC1M(t, "-auth", "required", "-jwt-secret", secret)
	sign := func(key string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "ann", "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Logf("%s", runNode(t, "sio-c1m.mjs", in.clientURL(), in.api, "auth", "websocket", sign(secret), sign("not-the-secret-0123456789abcdef")))
}
