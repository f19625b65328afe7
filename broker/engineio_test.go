package broker_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/natstest"
)

// eioUnknownSID is the reference server's answer to a request naming a
// session it does not hold: what socket.io-client takes as a transport
// error, after which it opens a new session (and tries recovery).
const eioUnknownSID = `{"code":1,"message":"Session ID unknown"}`

// eioRequest makes an Engine.IO polling request and returns its status
// and body.
func eioRequest(t *testing.T, hc *http.Client, method, addr, query, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+"/socket.io/?EIO=4&transport=polling"+query, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterEngineIOOtherNode: an Engine.IO session lives on the node
// that took its handshake, and is not forwarded: a poll, a post or the
// upgrade WebSocket that lands on another node gets the reference
// server's answer for a session it does not hold (400, code 1), as a
// single node answers for an unknown session, while the session's own
// node serves the same requests. So polling and the upgrade need a
// sticky proxy in front of the nodes (deploy/, docs/cluster.md); a
// WebSocket-only client needs none.
func TestClusterEngineIOOtherNode(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)
	hc := httpClient(t)
	status, body := eioRequest(t, hc, http.MethodGet, a.addr, "", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", body, err)
	}
	sid := "&sid=" + open.SID
	for _, tc := range []struct{ name, method, body string }{
		{"post", http.MethodPost, "40"},
		{"poll", http.MethodGet, ""},
	} {
		if status, got := eioRequest(t, hc, tc.method, b.addr, sid, tc.body); status != http.StatusBadRequest || got != eioUnknownSID {
			t.Fatalf("%s on the other node: %d %q, want 400 %s", tc.name, status, got, eioUnknownSID)
		}
		if status, got := eioRequest(t, hc, tc.method, a.addr, sid, tc.body); status != http.StatusOK {
			t.Fatalf("%s on the session's node: %d %q, want 200", tc.name, status, got)
		}
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	_, resp, err := d.Dial("ws://"+b.addr+"/socket.io/?EIO=4&transport=websocket"+sid, nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("upgrade on the other node: %v, want 400", err)
	}
	c, _, err := d.Dial("ws://"+a.addr+"/socket.io/?EIO=4&transport=websocket"+sid, nil)
	if err != nil {
		t.Fatalf("upgrade on the session's node: %v", err)
	}
	c.Close()
}

// sioConn is a raw Socket.IO client over an Engine.IO WebSocket.
type sioConn struct {
	t *testing.T
	c *websocket.Conn
}

// dialSIO opens a WebSocket-only Socket.IO client on addr and connects to
// namespace "/" with auth, returning the CONNECT answer's sid and pid.
func dialSIO(t *testing.T, addr, auth string) (*sioConn, string, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("socket.io on %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	s := &sioConn{t: t, c: c}
	s.next("0") // Engine.IO open
	if err := c.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
		t.Fatal(err)
	}
	var ans struct{ SID, PID string }
	if err := json.Unmarshal([]byte(s.next("40")[2:]), &ans); err != nil {
		t.Fatal(err)
	}
	return s, ans.SID, ans.PID
}

// next returns the next packet that starts with prefix, answering pings.
func (s *sioConn) next(prefix string) string {
	s.t.Helper()
	for {
		_ = s.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, p, err := s.c.ReadMessage()
		if err != nil {
			s.t.Fatalf("socket.io read (waiting for %q): %v", prefix, err)
		}
		if string(p) == "2" {
			_ = s.c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if strings.HasPrefix(string(p), prefix) {
			return string(p)
		}
	}
}

// TestClusterSocketIORecoveryOtherNode: Socket.IO connection state
// recovery does not cross nodes: a client whose connection to node a
// dropped and that reconnects to node b with its pid and offset gets a
// new socket (another id, a new pid: socket.recovered is false in the
// client), not its rooms and missed events, because the kept state is in
// node a's memory (socketio/recovery.go). The client is told, never
// misled; docs/cluster.md says what crossing nodes would take.
func TestClusterSocketIORecoveryOtherNode(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)
	hc := httpClient(t)
	s, sid, pid := dialSIO(t, a.addr, "")
	if pid == "" {
		t.Fatal("no pid: recovery is off")
	}
	if err := s.c.WriteMessage(websocket.TextMessage, []byte(`421["subscribe","rx"]`)); err != nil {
		t.Fatal(err)
	}
	if got := s.next("431"); got != "431[null]" {
		t.Fatalf("subscribe ack %q", got)
	}
	if _, err := publishAPI(hc, b.api, "rx", "m1"); err != nil {
		t.Fatal(err)
	}
	var ev []string
	if err := json.Unmarshal([]byte(s.next(`42["message"`)[2:]), &ev); err != nil || len(ev) != 3 || ev[1] != "m1" {
		t.Fatalf("event %v: %v", ev, err)
	}
	s.c.Close() // the connection drops: node a keeps the socket's state
	if _, err := publishAPI(hc, b.api, "rx", "m2"); err != nil {
		t.Fatal(err)
	}
	auth, _ := json.Marshal(map[string]string{"pid": pid, "offset": ev[2]})
	_, sid2, pid2 := dialSIO(t, b.addr, string(auth))
	if sid2 == sid || pid2 == pid || pid2 == "" {
		t.Fatalf("on node b: sid %q pid %q (was %q %q): want a new socket, told it did not recover", sid2, pid2, sid, pid)
	}
}
