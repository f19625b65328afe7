package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestEIODirectSID: the sid of a session that opened on WebSocket (the
// connection's own session, which keeps no token) names it as the
// reference server's does: a poll or a post with it is a transport that
// does not match (400, code 3), an upgrade with it is taken and closed,
// and a forged token is an unknown sid. The session goes on meanwhile.
func TestEIODirectSID(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{})
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	_, open := wsRead(t, ws)
	var o eioOpen
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &o); err != nil || o.SID == "" {
		t.Fatalf("open packet %q: %v", open, err)
	}
	id, _, _ := strings.Cut(o.SID, ".")
	c := newEIOClient(t, base, true)
	cases := []struct {
		name, method, sid string
		want              string
	}{
		{"poll", http.MethodGet, o.SID, `{"code":3,"message":"Bad request"}`},
		{"post", http.MethodPost, o.SID, `{"code":3,"message":"Bad request"}`},
		{"poll, forged token", http.MethodGet, id + ".abc", `{"code":1,"message":"Session ID unknown"}`},
		{"post, forged token", http.MethodPost, id + ".abc", `{"code":1,"message":"Session ID unknown"}`},
	}
	for _, tc := range cases {
		body := ""
		if tc.method == http.MethodPost {
			body = "4x"
		}
		if status, got, _ := c.do(tc.method, "EIO=4&transport=polling&sid="+tc.sid, body); status != http.StatusBadRequest || got != tc.want {
			t.Errorf("%s: %d %q, want 400 %q", tc.name, status, got, tc.want)
		}
	}
	// An upgrade naming it: the reference server takes the WebSocket and
	// closes it.
	up := eioWS(t, base, "EIO=4&transport=websocket&sid="+o.SID)
	wsClosed(t, up)
	// A forged token: refused before the upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"?EIO=4&transport=websocket&sid="+id+".abc", nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("upgrade with a forged token: %v %v", resp, err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4still"))
	if _, m := wsRead(t, ws); m != "4still" {
		t.Fatalf("echo after the refusals: %q", m)
	}
}

// TestEIODirectOneSession: a client that opens Engine.IO on WebSocket
// holds one session in its shard, its connection's own, as a plain
// WebSocket does (before, its connection's session was held beside a
// detached Engine.IO session: two entries, and the memory of both).
func TestEIODirectOneSession(t *testing.T) {
	t.Parallel()
	srv, base := eioServer(t, newEIOEvents(), server.Config{Loops: 2})
	const n = 6
	for range n {
		ws := eioWS(t, base, "EIO=4&transport=websocket")
		wsRead(t, ws) // the open packet: the session is open
	}
	if got := server.SessionEntries(srv); got != n {
		t.Fatalf("%d sessions in the shards for %d Engine.IO WebSocket clients, want %d", got, n, n)
	}
	if p, w := srv.EngineSessions(); p != 0 || w != n {
		t.Fatalf("EngineSessions %d polling, %d websocket; want 0, %d", p, w, n)
	}
}

// TestEIODirectSlowConsumer: a direct Engine.IO WebSocket that stops
// reading while its topic floods is evicted as a WebSocket is, once what
// is held for it passes MaxOutbound: its handler's OnClose comes once,
// "1008 slow consumer", and the client reads a close frame 1008 after
// what it was sent.
func TestEIODirectSlowConsumer(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(r *server.Request) error { r.Subscribe("flood"); return nil }
	srv, base := eioServer(t, h, server.Config{Loops: 1, MaxOutbound: backpressureCap,
		Timing: session.Config{PingInterval: -1, CloseTimeout: 3 * wstest.Timeout}})
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/engine.io/")
	c := stalled(t, addr, "/engine.io/?EIO=4&transport=websocket")
	waitFor(t, "the subscriber", func() bool { return srv.Hub().Totals().Sessions == 1 })
	payload := strings.Repeat("x", chunk)
	evicted := ""
	for i := 0; i < 10_000 && evicted == ""; i++ {
		if _, err := srv.Hub().Publish("flood", []byte(payload)); err != nil {
			t.Fatal(err)
		}
		select {
		case evicted = <-h.closes:
		default:
		}
	}
	if evicted != "1008 slow consumer" {
		t.Fatalf("OnClose %q after the flood, want \"1008 slow consumer\"", evicted)
	}
	if n := slowConsumerEvictions(srv); n != 1 {
		t.Fatalf("%d slow-consumer evictions, want 1", n)
	}
	if _, err := c.ReadToClose(codec.StatusPolicyViolation); err != nil {
		t.Fatal(err)
	}
	c.Write(wstest.Close(codec.StatusPolicyViolation, ""))
	c.ExpectEOF()
	select {
	case v := <-h.closes:
		t.Fatalf("a second OnClose: %q", v)
	default:
	}
}
