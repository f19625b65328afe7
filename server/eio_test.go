package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
)

// Wire tests of Engine.IO v4, one per case of the engine.io-protocol test
// suite (docs/engine.io-protocol/v4-test-suite) and per malformed request,
// with the reference server's answers.

func TestEIOHandshakePolling(t *testing.T) {
	t.Parallel()
	srv, base := eioServer(t, newEIOEvents(), server.Config{Engine: &server.EngineConfig{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	c := newEIOClient(t, base, false)
	status, body, ctype := c.do(http.MethodGet, "EIO=4&transport=polling", "")
	if status != http.StatusOK || ctype != "text/plain; charset=UTF-8" || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q %q", status, ctype, body)
	}
	_, o := c.handshake()
	if o.SID == "" || len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" ||
		o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1_000_000 {
		t.Fatalf("open packet: %+v", o)
	}
	if p, _ := srv.EngineSessions(); p != 2 {
		t.Fatalf("polling sessions: %d, want 2", p)
	}
}

// TestEIORefusals: every request the reference server refuses, with its
// status and JSON.
func TestEIORefusals(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	cases := []struct {
		name, method, query, body string
		status                    int
		want                      string
	}{
		{"no EIO", "GET", "transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=abc", "GET", "EIO=abc&transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=3", "GET", "EIO=3&transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no transport", "GET", "EIO=4", "", 400, `{"code":0,"message":"Transport unknown"}`},
		{"transport=abc", "GET", "EIO=4&transport=abc", "", 400, `{"code":0,"message":"Transport unknown"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", "", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", "", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"POST handshake with a body", "POST", "EIO=4&transport=polling", "4x", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", "", 400, `{"code":3,"message":"Bad request"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=abc.def", "", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"malformed sid", "GET", "EIO=4&transport=polling&sid=%%%", "", 400, `{"code":3,"message":"Bad request"}`},
		{"sid of no shard", "GET", "EIO=4&transport=polling&sid=zzzzzzzzzzzz.1", "", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"wrong transport for the sid", "GET", "EIO=4&transport=websocket&sid=" + sid, "", 400, `{"code":3,"message":"Bad request"}`},
		{"PUT with sid", "PUT", "EIO=4&transport=polling&sid=" + sid, "", 500, ""},
	}
	for _, tc := range cases {
		status, body, _ := c.do(tc.method, tc.query, tc.body)
		if status != tc.status || body != tc.want {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	// The session the requests named is still there.
	if status, body := c.post(sid, "4still"); status != 200 || body != "ok" {
		t.Fatalf("post after the refusals: %d %q", status, body)
	}
	if status, body := c.get(sid); status != 200 || body != "4still" {
		t.Fatalf("poll after the refusals: %d %q", status, body)
	}
}

// TestEIOPollingMessages: a payload of one text packet, of several, of
// text and binary ('b' base64) packets, each echoed in one poll.
func TestEIOPollingMessages(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{})
	c := newEIOClient(t, base, false)
	for _, payload := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "4", "4é\x1eb"} {
		sid, _ := c.handshake()
		if status, body := c.post(sid, payload); status != 200 || body != "ok" {
			t.Fatalf("post %q: %d %q", payload, status, body)
		}
		if status, body := c.get(sid); status != 200 || body != payload {
			t.Fatalf("poll after %q: %d %q", payload, status, body)
		}
	}
}

// TestEIOBadPacket: a payload that does not decode is refused, and ends
// the session ("parse error").
func TestEIOBadPacket(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, false)
	for _, payload := range []string{"abc", "", "4ok\x1e7", "b!!!!", "4\xff", "2"} {
		sid, _ := c.handshake()
		if status, body := c.post(sid, payload); status != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("post %q: %d %q", payload, status, body)
		}
		want := "1002 parse error"
		if payload == "2" {
			want = "1002 transport error" // a ping from the client: the wrong direction
		}
		if got := h.nextClose(t); got != want {
			t.Fatalf("post %q: OnClose %q, want %q", payload, got, want)
		}
		if status, body := c.get(sid); status != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
			t.Fatalf("poll after %q: %d %q", payload, status, body)
		}
	}
}

// TestEIOOverlappingPolls: a second poll while one is held ends the
// session; the first gets the close packet, the second 400.
func TestEIOOverlappingPolls(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	nc, br := rawGet(t, base, sid)
	heldPolls(t, srv, 1)
	if status, body := newEIOClient(t, base, true).get(sid); status != 400 || body != "" {
		t.Fatalf("second poll: %d %q", status, body)
	}
	if status, body := readRaw(t, nc, br); status != 200 || body != "1" {
		t.Fatalf("first poll: %d %q", status, body)
	}
	if got := h.nextClose(t); got != "1002 transport error" {
		t.Fatalf("OnClose %q", got)
	}
	if status, _ := c.get(sid); status != 400 {
		t.Fatalf("poll after: %d", status)
	}
}

// TestEIOCancelledPoll: a poll whose connection closes ends the session.
func TestEIOCancelledPoll(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	nc, _ := rawGet(t, base, sid)
	heldPolls(t, srv, 1)
	nc.Close()
	if got := h.nextClose(t); got != "1006 transport error" {
		t.Fatalf("OnClose %q", got)
	}
	if status, _ := c.get(sid); status != 400 {
		t.Fatalf("poll after: %d", status)
	}
}

// TestEIOHeartbeatPolling: a ping with each poll, answered by a pong; with
// no poll, the session ends at the ping timeout.
func TestEIOHeartbeatPolling(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{Engine: heartbeat()})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	for i := range 3 {
		if status, body := c.get(sid); status != 200 || body != "2" {
			t.Fatalf("poll %d: %d %q", i, status, body)
		}
		if status, body := c.post(sid, "3"); status != 200 || body != "ok" {
			t.Fatalf("pong %d: %d %q", i, status, body)
		}
	}
	// No poll, so no pong: the session ends.
	if got := h.nextClose(t); got != "1001 ping timeout" {
		t.Fatalf("OnClose %q", got)
	}
	if status, body := c.get(sid); status != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("poll after the timeout: %d %q", status, body)
	}
}

// TestEIOClosePacket: the client's close packet ends the session; the poll
// held gets a noop.
func TestEIOClosePacket(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	nc, br := rawGet(t, base, sid)
	heldPolls(t, srv, 1)
	if status, body := newEIOClient(t, base, true).post(sid, "1"); status != 200 || body != "ok" {
		t.Fatalf("close packet: %d %q", status, body)
	}
	if status, body := readRaw(t, nc, br); status != 200 || body != "6" {
		t.Fatalf("held poll: %d %q", status, body)
	}
	if got := h.nextClose(t); got != "1000 transport close" {
		t.Fatalf("OnClose %q", got)
	}
	if status, _ := c.get(sid); status != 400 {
		t.Fatalf("poll after: %d", status)
	}
}

// TestEIOPayloadTooLarge: a post over MaxPayload gets 413 and ends the
// session, as the reference server does; one at the limit is taken.
func TestEIOPayloadTooLarge(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{Engine: &server.EngineConfig{MaxPayload: 100}})
	c := newEIOClient(t, base, false)
	sid, o := c.handshake()
	if o.MaxPayload != 100 {
		t.Fatalf("maxPayload %d", o.MaxPayload)
	}
	if status, body := c.post(sid, "4"+strings.Repeat("x", 99)); status != 200 || body != "ok" {
		t.Fatalf("post at the limit: %d %q", status, body)
	}
	if status, body := c.get(sid); status != 200 || len(body) != 100 {
		t.Fatalf("poll: %d %d bytes", status, len(body))
	}
	if status, body := c.post(sid, "4"+strings.Repeat("x", 100)); status != 413 || body != "" {
		t.Fatalf("post over the limit: %d %q", status, body)
	}
	if got := h.nextClose(t); !strings.HasSuffix(got, "transport error") {
		t.Fatalf("OnClose %q, want a transport error", got)
	}
	if status, _ := c.get(sid); status != 400 {
		t.Fatalf("poll after the post over the limit: %d, want 400", status)
	}
}

// TestEIOPollBound: a poll's answer carries at most MaxPayload bytes of
// packets (at least one); the rest comes with the next.
func TestEIOPollBound(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{Engine: &server.EngineConfig{MaxPayload: 20}})
	c := newEIOClient(t, base, false)
	sid, _ := c.handshake()
	for _, m := range []string{"4aaaaaaaa", "4bbbbbbbb", "4cccccccc"} {
		if status, _ := c.post(sid, m); status != 200 {
			t.Fatalf("post %q: %d", m, status)
		}
	}
	if _, body := c.get(sid); body != "4aaaaaaaa\x1e4bbbbbbbb" {
		t.Fatalf("first poll %q", body)
	}
	if _, body := c.get(sid); body != "4cccccccc" {
		t.Fatalf("second poll %q", body)
	}
}

func TestEIOWebSocket(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	kind, open := wsRead(t, ws)
	if kind != websocket.TextMessage || !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open packet %d %q", kind, open)
	}
	if _, w := srv.EngineSessions(); w != 1 {
		t.Fatalf("websocket sessions %d", w)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
	if kind, m := wsRead(t, ws); kind != websocket.TextMessage || m != "4hello" {
		t.Fatalf("text echo %d %q", kind, m)
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3, 4})
	if kind, m := wsRead(t, ws); kind != websocket.BinaryMessage || m != "\x01\x02\x03\x04" {
		t.Fatalf("binary echo %d %q", kind, m)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("1"))
	wsClosed(t, ws)
	if got := h.nextClose(t); got != "1000 transport close" {
		t.Fatalf("OnClose %q", got)
	}
	ws = eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("abc"))
	wsClosed(t, ws)
	if got := h.nextClose(t); got != "1002 parse error" {
		t.Fatalf("OnClose %q", got)
	}
}

func TestEIOHeartbeatWebSocket(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{Engine: heartbeat()})
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	for i := range 3 {
		if _, m := wsRead(t, ws); m != "2" {
			t.Fatalf("ping %d: %q", i, m)
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
	}
	// No pong now: the server closes.
	wsClosed(t, ws)
	if got := h.nextClose(t); got != "1001 ping timeout" {
		t.Fatalf("OnClose %q", got)
	}
}

// TestEIOWebSocketRefusals: a WebSocket handshake the reference server
// refuses gets 400.
func TestEIOWebSocketRefusals(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{})
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc",
		"EIO=4&transport=websocket&sid=abc.def", "EIO=4&transport=polling"} {
		ws, resp, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"?"+q, nil)
		if err == nil {
			ws.Close()
			t.Fatalf("%s: upgraded", q)
		}
		if resp == nil || resp.StatusCode != 400 {
			t.Fatalf("%s: %v %v", q, resp, err)
		}
	}
}

// TestEIOCORS: polling answers carry the CORS headers for an allowed
// origin (handshake, poll, post, refusal), a preflight is answered, and an
// origin not allowed is refused.
func TestEIOCORS(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{AllowedOrigins: []string{"app.example"}})
	hc := &http.Client{}
	do := func(method, query, origin, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+"?"+query, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Header.Set("X-Body", string(b))
		return resp
	}
	allowed := func(resp *http.Response) bool {
		return resp.Header.Get("Access-Control-Allow-Origin") == "http://app.example" &&
			resp.Header.Get("Access-Control-Allow-Credentials") == "true"
	}
	resp := do("GET", "EIO=4&transport=polling", "http://app.example", "")
	if resp.StatusCode != 200 || !allowed(resp) {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	var o eioOpen
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Body")[1:]), &o); err != nil {
		t.Fatal(err)
	}
	if resp := do("POST", "EIO=4&transport=polling&sid="+o.SID, "http://app.example", "4x"); resp.StatusCode != 200 || !allowed(resp) {
		t.Fatalf("post: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := do("GET", "EIO=4&transport=polling&sid="+o.SID, "http://app.example", ""); resp.StatusCode != 200 || !allowed(resp) {
		t.Fatalf("poll: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := do("GET", "EIO=3&transport=polling", "http://app.example", ""); resp.StatusCode != 400 || !allowed(resp) {
		t.Fatalf("refusal: %d %v", resp.StatusCode, resp.Header)
	}
	resp = do("OPTIONS", "EIO=4&transport=polling&sid="+o.SID, "http://app.example", "")
	if resp.StatusCode != 204 || !allowed(resp) || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := do("GET", "EIO=4&transport=polling", "http://evil.example", ""); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin: %d %v", resp.StatusCode, resp.Header)
	}
}
