package broker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/broker"
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
	t testing.TB
	c *websocket.Conn
	// message events next skipped, for message (a recovered socket's
	// replay comes before the CONNECT answer)
	skipped []string
}

// dialSIO opens a WebSocket-only Socket.IO client on addr and connects to
// namespace "/" with auth, returning the CONNECT answer's sid and pid.
func dialSIO(t testing.TB, addr, auth string) (*sioConn, string, string) {
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
		if strings.HasPrefix(string(p), `42["message"`) {
			s.skipped = append(s.skipped, string(p))
		}
	}
}

// subscribeSIO joins room with the push layer's subscribe event, ack id.
func (s *sioConn) subscribe(id int, room string) {
	s.t.Helper()
	if err := s.c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42%d["subscribe",%q]`, id, room))); err != nil {
		s.t.Fatal(err)
	}
	if got, want := s.next(fmt.Sprintf("43%d", id)), fmt.Sprintf("43%d[null]", id); got != want {
		s.t.Fatalf("subscribe ack %q, want %q", got, want)
	}
}

// message returns the next message event: its body and offset.
func (s *sioConn) message() (string, string) {
	s.t.Helper()
	var p string
	if len(s.skipped) > 0 {
		p, s.skipped = s.skipped[0], s.skipped[1:]
	} else {
		p = s.next(`42["message"`)
	}
	var ev []string
	if err := json.Unmarshal([]byte(p[2:]), &ev); err != nil || len(ev) != 3 {
		s.t.Fatalf("event %v: %v", ev, err)
	}
	return ev[1], ev[2]
}

// waitKept waits until n's store has filed at least writes records.
func waitKept(t *testing.T, n *node, writes uint64) {
	t.Helper()
	waitStats(t, n.kept, fmt.Sprintf("%d writes on node %s", writes, n.id), func(s broker.KeptStats) bool { return s.Writes >= writes })
}

// TestClusterSocketIORecoveryOtherNode: Socket.IO connection state
// recovery crosses nodes. A client in two rooms whose connection to node
// a dropped reconnects to node b with its pid and offset: same socket id
// and pid, the publications of both rooms it missed (published through
// either node) replayed once, in order, and its rooms back (later
// publications reach it on b). Node a, which kept the socket too, cannot
// also recover it: the record is taken once (a client there with the
// same pid and offset gets a new socket).
func TestClusterSocketIORecoveryOtherNode(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)
	hc := httpClient(t)
	s, sid, pid := dialSIO(t, a.addr, "")
	if pid == "" {
		t.Fatal("no pid: recovery is off")
	}
	s.subscribe(1, "rx")
	s.subscribe(2, "ry")
	waitKept(t, a, 3) // CONNECT and two joins
	mustPublish := func(n *node, topic, body string) {
		t.Helper()
		if _, err := publishAPI(hc, n.api, topic, body); err != nil {
			t.Fatal(err)
		}
	}
	mustPublish(b, "rx", "m1")
	body, offset := s.message()
	if body != "m1" {
		t.Fatalf("got %q, want m1", body)
	}
	s.c.Close()       // the connection drops: node a keeps the socket's state
	waitKept(t, a, 4) // and marks its record
	mustPublish(b, "ry", "m2")
	mustPublish(a, "rx", "m3")
	mustPublish(b, "rz", "not a room of it")
	mustPublish(b, "ry", "m4")
	auth, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	s2, sid2, pid2 := dialSIO(t, b.addr, string(auth))
	if sid2 != sid || pid2 != pid {
		t.Fatalf("on node b: sid %q pid %q, want %q %q (recovered)", sid2, pid2, sid, pid)
	}
	for _, want := range []string{"m2", "m3", "m4"} {
		if got, _ := s2.message(); got != want {
			t.Fatalf("replayed %q, want %q", got, want)
		}
	}
	// Its rooms are back on b; m5 first would be a room lost.
	mustPublish(a, "ry", "m5")
	mustPublish(b, "rx", "m6")
	for _, want := range []string{"m5", "m6"} {
		if got, _ := s2.message(); got != want {
			t.Fatalf("after recovery %q, want %q", got, want)
		}
	}
	_, sid3, pid3 := dialSIO(t, a.addr, string(auth))
	if sid3 == sid || pid3 == pid || pid3 == "" {
		t.Fatalf("node a recovered it too: sid %q pid %q", sid3, pid3)
	}
	if k := b.broker.LocalStats().Kept; k == nil || k.Taken != 1 || k.Takes != 1 {
		t.Fatalf("node b's kept-record counters in its stats: %+v, want 1 take that got a record", k)
	}
}

// TestClusterSocketIORecoveryPastWindow: a client that comes back to
// another node after the recovery window gets a new socket (new id, a new
// pid: socket.recovered is false) without its old rooms.
func TestClusterSocketIORecoveryPastWindow(t *testing.T) {
	ns := natstest.Start(t)
	const window = 2 * time.Second
	a, b := startNodeWith(t, ns.URL(), "a", nil, nodeOptions{window: window}), startNodeWith(t, ns.URL(), "b", nil, nodeOptions{window: window})
	hc := httpClient(t)
	s, sid, pid := dialSIO(t, a.addr, "")
	s.subscribe(1, "old")
	waitKept(t, a, 2)
	s.c.Close()
	waitKept(t, a, 3)
	time.Sleep(window + 500*time.Millisecond) // past the window, within the record's TTL
	auth, _ := json.Marshal(map[string]string{"pid": pid})
	s2, sid2, pid2 := dialSIO(t, b.addr, string(auth))
	if sid2 == sid || pid2 == pid || pid2 == "" {
		t.Fatalf("past the window: sid %q pid %q (was %q %q), want a new socket", sid2, pid2, sid, pid)
	}
	s2.subscribe(1, "new")
	for _, topic := range []string{"old", "new"} {
		if _, err := publishAPI(hc, b.api, topic, topic); err != nil {
			t.Fatal(err)
		}
	}
	// Publications reach a node's sessions in order: "old" first would be
	// the old room restored.
	if got, _ := s2.message(); got != "new" {
		t.Fatalf("got %q, want new (the old room not restored)", got)
	}
}

// TestClusterSocketIORecoveryWorkers: a node whose handlers run on
// workers (server.Config.Workers) recovers a socket of another node as a
// loop does: the CONNECT's answer, after the store's, comes from a
// goroutine of its own.
func TestClusterSocketIORecoveryWorkers(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startNode(t, ns.URL(), "a", nil), startNodeWith(t, ns.URL(), "b", nil, nodeOptions{workers: 2})
	hc := httpClient(t)
	s, sid, pid := dialSIO(t, a.addr, "")
	s.subscribe(1, "wx")
	waitKept(t, a, 2)
	if _, err := publishAPI(hc, a.api, "wx", "w1"); err != nil {
		t.Fatal(err)
	}
	_, offset := s.message()
	s.c.Close()
	waitKept(t, a, 3)
	if _, err := publishAPI(hc, a.api, "wx", "w2"); err != nil {
		t.Fatal(err)
	}
	auth, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	s2, sid2, pid2 := dialSIO(t, b.addr, string(auth))
	if sid2 != sid || pid2 != pid {
		t.Fatalf("on the workers' node: sid %q pid %q, want %q %q", sid2, pid2, sid, pid)
	}
	if got, _ := s2.message(); got != "w2" {
		t.Fatalf("replayed %q, want w2", got)
	}
	if _, err := publishAPI(hc, b.api, "wx", "w3"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.message(); got != "w3" {
		t.Fatalf("after recovery %q, want w3", got)
	}
}
