package server_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestEIOUpgrade: the upgrade dance from polling to WebSocket, then polls
// and a second WebSocket for the same sid are refused while the first
// goes on. The kernel puts each new connection on a loop by a hash of its
// addresses (a listener per loop), so a WebSocket lands on its session's
// loop or on the other about as often: rounds go on, 4 at least and 40 at
// most, until both the direct path and the relay across loops have been
// exercised, and the test checks that both were.
func TestEIOUpgrade(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, true)
	relayed, direct := 0, 0
	for i := 0; i < 4 || (relayed == 0 || direct == 0) && i < 40; i++ {
		sid, _ := c.handshake()
		// Something queued on polling moves to the WebSocket.
		c.post(sid, "4queued")
		ws := eioWS(t, base, "EIO=4&transport=websocket&sid="+sid)
		nc, br := rawGet(t, base, sid) // held? answered "4queued" first
		if status, body := readRaw(t, nc, br); status != 200 || body != "4queued" {
			t.Fatalf("%d: poll %d %q", i, status, body)
		}
		nc, br = rawGet(t, base, sid)
		heldPolls(t, srv, 1)
		_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
		if _, m := wsRead(t, ws); m != "3probe" {
			t.Fatalf("%d: probe answer %q", i, m)
		}
		if status, body := readRaw(t, nc, br); status != 200 || body != "6" {
			t.Fatalf("%d: held poll during the upgrade %d %q", i, status, body)
		}
		c.post(sid, "4still polling")
		_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
		if _, m := wsRead(t, ws); m != "4still polling" {
			t.Fatalf("%d: queued message after the upgrade %q", i, m)
		}
		if p, w := srv.EngineSessions(); p != 0 || w != 1 {
			t.Fatalf("%d: sessions polling %d websocket %d", i, p, w)
		}
		hops := server.EngineHops(srv)
		_ = ws.WriteMessage(websocket.TextMessage, []byte("4hello"))
		if _, m := wsRead(t, ws); m != "4hello" {
			t.Fatalf("%d: echo %q", i, m)
		}
		if server.EngineHops(srv) > hops {
			relayed++
		} else {
			direct++
		}
		if status, body := c.get(sid); status != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("%d: poll after the upgrade %d %q", i, status, body)
		}
		if status, body := c.post(sid, "4x"); status != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("%d: post after the upgrade %d %q", i, status, body)
		}
		ws2 := eioWS(t, base, "EIO=4&transport=websocket&sid="+sid)
		wsClosed(t, ws2)
		_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1})
		if kind, m := wsRead(t, ws); kind != websocket.BinaryMessage || m != "\x00\x01" {
			t.Fatalf("%d: binary echo after a second WebSocket: %d %q", i, kind, m)
		}
		ws.Close()
		if got := h.nextClose(t); got != "1006 transport close" {
			t.Fatalf("%d: OnClose %q", i, got)
		}
	}
	if relayed == 0 || direct == 0 {
		t.Fatalf("WebSockets relayed across loops %d, on their session's loop %d: want both", relayed, direct)
	}
}

// TestEIOUpgradeCancelled: a probe that sends anything but the probe and
// the upgrade packet is closed, and the session goes on polling.
func TestEIOUpgradeCancelled(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	ws := eioWS(t, base, "EIO=4&transport=websocket&sid="+sid)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4not now"))
	wsClosed(t, ws)
	c.post(sid, "4on polling")
	if status, body := c.get(sid); status != 200 || body != "4on polling" {
		t.Fatalf("poll after the cancelled upgrade: %d %q", status, body)
	}
}

// TestEIOCrossLoop: with two loops, the posts and polls of one session come
// over new TCP connections each, which land on both loops; every message
// comes back in order, and tasks did cross loops.
func TestEIOCrossLoop(t *testing.T) {
	t.Parallel()
	srv, base := eioServer(t, newEIOEvents(), server.Config{Loops: 2})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	for i := range 20 {
		m := fmt.Sprintf("4m%d", i)
		if status, body := c.post(sid, m); status != 200 || body != "ok" {
			t.Fatalf("post %d: %d %q", i, status, body)
		}
		if status, body := c.get(sid); status != 200 || body != m {
			t.Fatalf("poll %d: %d %q", i, status, body)
		}
	}
	if server.EngineHops(srv) == 0 {
		t.Fatal("no task crossed loops")
	}
}

// TestEIOBadInputHarmsNoOther: malformed requests and packets to the
// Engine.IO path, and sessions ended by them, leave another session's
// echo untouched.
func TestEIOBadInputHarmsNoOther(t *testing.T) {
	t.Parallel()
	_, base := eioServer(t, newEIOEvents(), server.Config{})
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	c := newEIOClient(t, base, true)
	host := strings.TrimPrefix(strings.TrimSuffix(base, "/engine.io/"), "http://")
	raw := []string{
		"GET /engine.io/?EIO=4&transport=polling&sid=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /engine.io/?EIO=4&transport=polling&sid=1.1 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
		"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"GET /engine.io/?" + strings.Repeat("a", 20000) + " HTTP/1.1\r\n\r\n",
		"\x00\x01garbage\r\n\r\n",
	}
	for _, r := range raw {
		nc, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte(r))
		nc.Close()
	}
	for _, payload := range []string{"abc", "2", "b%%%"} {
		sid, _ := c.handshake()
		c.post(sid, payload)
	}
	bad := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, bad)
	_ = bad.WriteMessage(websocket.TextMessage, []byte("9"))
	wsClosed(t, bad)
	for i := range 3 {
		m := fmt.Sprintf("4ok%d", i)
		_ = ws.WriteMessage(websocket.TextMessage, []byte(m))
		if _, got := wsRead(t, ws); got != m {
			t.Fatalf("the good session got %q, want %q", got, m)
		}
	}
}

// TestEIOServerClose: Session.Close sends what is queued, then the close
// packet, on polling and on WebSocket; OnClose gets the code and reason.
func TestEIOServerClose(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.onMsg = func(s *server.Session, m server.Message) bool {
		if string(m.Data) != "bye" {
			return false
		}
		_ = s.Send(m.Op, []byte("last"))
		_ = s.Close(server.StatusCode(4000), "done")
		return true
	}
	_, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	c.post(sid, "4bye")
	if status, body := c.get(sid); status != 200 || body != "4last\x1e1" {
		t.Fatalf("poll: %d %q", status, body)
	}
	if got := h.nextClose(t); got != "4000 done" {
		t.Fatalf("OnClose %q", got)
	}
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4bye"))
	if _, m := wsRead(t, ws); m != "4last" {
		t.Fatalf("ws: %q", m)
	}
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	_, _, err := ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 {
		t.Fatalf("ws close: %v", err)
	}
	if got := h.nextClose(t); got != "4000 done" {
		t.Fatalf("OnClose %q", got)
	}
}

// TestEIOPublications: a session subscribed in OnConnect gets the topic's
// publications as message packets, text or binary, on either transport;
// EngineConfig.Publication shapes them.
func TestEIOPublications(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(r *server.Request) error { r.Subscribe("news"); return nil }
	srv, base := eioServer(t, h, server.Config{Engine: &server.EngineConfig{
		Publication: func(dst []byte, p *session.Publication) ([]byte, bool) {
			if p.Text {
				return append(append(dst, "pub:"...), p.Data...), false
			}
			return append(dst, p.Data...), true
		},
	}})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	waitFor(t, "two subscribers", func() bool { return srv.Hub().Totals().Sessions == 2 })
	if _, err := srv.Hub().Publish("news", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Hub().Publish("news", []byte{0xff, 0}); err != nil {
		t.Fatal(err)
	}
	if status, body := c.get(sid); status != 200 || body != "4pub:hello\x1eb/wA=" {
		t.Fatalf("poll: %d %q", status, body)
	}
	if kind, m := wsRead(t, ws); kind != websocket.TextMessage || m != "4pub:hello" {
		t.Fatalf("ws: %d %q", kind, m)
	}
	if kind, m := wsRead(t, ws); kind != websocket.BinaryMessage || m != "\xff\x00" {
		t.Fatalf("ws: %d %q", kind, m)
	}
}

// TestEIOWorkers: with Config.Workers the handler runs off the loop, and
// the echo still works on both transports.
func TestEIOWorkers(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{Workers: 2})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	c.post(sid, "4w\x1ebAQI=")
	if _, body := c.get(sid); body != "4w\x1ebAQI=" {
		t.Fatalf("poll %q", body)
	}
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4w"))
	if _, m := wsRead(t, ws); m != "4w" {
		t.Fatalf("ws %q", m)
	}
}

// TestEIOOnConnectReject: OnConnect's refusal is the reference server's
// 403 with code 4 and the reason, on polling; a plain refusal on
// WebSocket.
func TestEIOOnConnectReject(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(*server.Request) error { return server.Reject(403, "no entry") }
	_, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, true)
	if status, body, _ := c.do("GET", "EIO=4&transport=polling", ""); status != 403 || body != `{"code":4,"message":"no entry"}` {
		t.Fatalf("polling: %d %q", status, body)
	}
	_, resp, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"?EIO=4&transport=websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("websocket: %v %v", resp, err)
	}
}

// TestEIOSlowConsumer: a polling session that does not poll while
// publications pile up past MaxOutbound is closed ("slow consumer"); the
// other subscribers of the topic on the same loop get every publication.
func TestEIOSlowConsumer(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(r *server.Request) error { r.Subscribe("flood"); return nil }
	srv, base := eioServer(t, h, server.Config{Loops: 1, MaxOutbound: 300})
	c := newEIOClient(t, base, true)
	var sids []string
	for range 3 {
		sid, _ := c.handshake()
		sids = append(sids, sid)
	}
	waitFor(t, "three subscribers", func() bool { return srv.Hub().Totals().Sessions == 3 })
	// The last session keeps polling; the others never do.
	var got []string
	for i := range 10 {
		if _, err := srv.Hub().Publish("flood", []byte(fmt.Sprintf("%050d", i))); err != nil {
			t.Fatal(err)
		}
		_, body := c.get(sids[2])
		got = append(got, body)
	}
	for i, body := range got {
		if want := fmt.Sprintf("4%050d", i); body != want {
			t.Fatalf("poll %d: %q, want %q", i, body, want)
		}
	}
	for range 2 {
		if got := h.nextClose(t); got != "1008 slow consumer" {
			t.Fatalf("OnClose %q", got)
		}
	}
	if status, _ := c.get(sids[0]); status != 400 {
		t.Fatalf("poll of an evicted session: %d", status)
	}
}

// TestEIOWorkersFull: with a worker whose queue is full, the session's
// events wait on the session and reach the handler in order, while the
// loop goes on serving another session.
func TestEIOWorkersFull(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	h := newEIOEvents()
	h.onMsg = func(s *server.Session, m server.Message) bool {
		if string(m.Data) == "block" {
			once.Do(func() { <-release })
		}
		return false
	}
	_, base := eioServer(t, h, server.Config{Loops: 1, Workers: 1, WorkerQueue: 1})
	ws := eioWS(t, base, "EIO=4&transport=websocket")
	wsRead(t, ws)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("4block"))
	const n = 50
	for i := range n {
		_ = ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("4m%d", i)))
	}
	// The loop serves another session meanwhile.
	c := newEIOClient(t, base, true)
	if _, o := c.handshake(); o.SID == "" {
		t.Fatal("no handshake while the worker was full")
	}
	close(release)
	if _, m := wsRead(t, ws); m != "4block" {
		t.Fatalf("first echo %q", m)
	}
	for i := range n {
		if _, m := wsRead(t, ws); m != fmt.Sprintf("4m%d", i) {
			t.Fatalf("echo %d: %q", i, m)
		}
	}
}

// TestEIOFanout: publications reach every Engine.IO subscriber in order,
// WebSocket and polling ones on the same loop, and
// EngineConfig.Publication runs once per publication, not once per
// session.
func TestEIOFanout(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	h.connect = func(r *server.Request) error { r.Subscribe("room"); return nil }
	var encoded atomic.Int64
	srv, base := eioServer(t, h, server.Config{Loops: 1, Engine: &server.EngineConfig{
		Publication: func(dst []byte, p *session.Publication) ([]byte, bool) {
			encoded.Add(1)
			return append(append(dst, `["event",`...), append(p.Data, ']')...), false
		},
	}})
	const sockets, pubs = 20, 30
	var wss []*websocket.Conn
	for range sockets {
		ws := eioWS(t, base, "EIO=4&transport=websocket")
		wsRead(t, ws)
		wss = append(wss, ws)
	}
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	waitFor(t, "the subscribers", func() bool { return srv.Hub().Totals().Sessions == sockets+1 })
	for i := range pubs {
		if _, err := srv.Hub().Publish("room", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for k, ws := range wss {
		for i := range pubs {
			if _, m := wsRead(t, ws); m != fmt.Sprintf(`4["event",%d]`, i) {
				t.Fatalf("socket %d, publication %d: %q", k, i, m)
			}
		}
	}
	var polled []string
	for len(polled) < pubs {
		_, body := c.get(sid)
		polled = append(polled, strings.Split(body, "\x1e")...)
	}
	for i, m := range polled {
		if m != fmt.Sprintf(`4["event",%d]`, i) {
			t.Fatalf("polling, publication %d: %q", i, m)
		}
	}
	if n := encoded.Load(); n != pubs {
		t.Fatalf("Publication ran %d times for %d publications", n, pubs)
	}
}

// TestEIOUpgradeTimeout: a probe that never sends the upgrade packet is
// closed once UpgradeTimeout has passed (checked with the heartbeat), and
// the session goes on polling.
func TestEIOUpgradeTimeout(t *testing.T) {
	t.Parallel()
	e := heartbeat()
	e.UpgradeTimeout = 50 * time.Millisecond
	_, base := eioServer(t, newEIOEvents(), server.Config{Engine: e})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	ws := eioWS(t, base, "EIO=4&transport=websocket&sid="+sid)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, m := wsRead(t, ws); m != "3probe" {
		t.Fatalf("probe answer %q", m)
	}
	wsClosed(t, ws)
	if status, body := c.get(sid); status != 200 || body != "2" {
		t.Fatalf("poll after the probe closed: %d %q", status, body)
	}
	c.post(sid, "3\x1e4alive")
	if status, body := c.get(sid); status != 200 || body != "4alive" {
		t.Fatalf("poll: %d %q", status, body)
	}
}
