package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// The Engine.IO tests' server and client helpers.

// eioEvents is an Engine.IO echo handler that records what its sessions
// see: OnClose's code and reason, by session.
type eioEvents struct {
	server.BuiltinHandler
	connect func(r *server.Request) error
	onMsg   func(s *server.Session, m server.Message) bool // true: handled, no echo
	mu      sync.Mutex
	opened  int
	closed  map[*server.Session]string // "code reason"
	closes  chan string
}

func newEIOEvents() *eioEvents {
	return &eioEvents{closed: map[*server.Session]string{}, closes: make(chan string, 64)}
}

func (h *eioEvents) OnConnect(r *server.Request) error {
	if h.connect != nil {
		return h.connect(r)
	}
	return nil
}

func (h *eioEvents) OnOpen(*server.Session) {
	h.mu.Lock()
	h.opened++
	h.mu.Unlock()
}

func (h *eioEvents) OnMessage(s *server.Session, m server.Message) {
	if h.onMsg != nil && h.onMsg(s, m) {
		return
	}
	_ = s.Send(m.Op, m.Data)
}

func (h *eioEvents) OnClose(s *server.Session, code server.StatusCode, reason string) {
	v := fmt.Sprintf("%d %s", code, reason)
	h.mu.Lock()
	if _, twice := h.closed[s]; twice {
		v = "twice " + v
	}
	h.closed[s] = v
	h.mu.Unlock()
	h.closes <- v
}

// nextClose waits for the next OnClose and returns its "code reason".
func (h *eioEvents) nextClose(t *testing.T) string {
	t.Helper()
	select {
	case v := <-h.closes:
		return v
	case <-time.After(wstest.Timeout):
		t.Fatal("no OnClose")
		return ""
	}
}

// The heartbeat of the tests that test it: the engine.io-protocol test
// suite's interval, and a timeout long enough for a pong on a loaded
// machine (the suite's 200 ms is not, under the race detector).
const (
	testPingInterval = 300 * time.Millisecond
	testPingTimeout  = time.Second
)

// heartbeat is an EngineConfig with the tests' heartbeat.
func heartbeat() *server.EngineConfig {
	return &server.EngineConfig{PingInterval: testPingInterval, PingTimeout: testPingTimeout}
}

// eioServer starts a server with Engine.IO at /engine.io/ for h and
// returns its base URL.
func eioServer(t *testing.T, h server.Handler, cfg server.Config) (*server.Server, string) {
	t.Helper()
	if cfg.Engine == nil {
		cfg.Engine = &server.EngineConfig{}
	}
	e := cfg.Engine
	e.Path, e.Handler = "/engine.io/", h
	if e.PingInterval == 0 {
		// No heartbeat unless the test asks for one: on a loaded machine
		// a ping could otherwise slip into a poll's answer.
		e.PingInterval = time.Hour
	}
	if cfg.Timing.Tick == 0 {
		cfg.Timing.Tick = 10 * time.Millisecond
	}
	if cfg.Timing.CloseTimeout == 0 {
		// A polling session closed by Shutdown waits this long for the
		// poll that would take its close packet.
		cfg.Timing.CloseTimeout = 200 * time.Millisecond
	}
	srv, addr := start(t, nil, cfg)
	return srv, "http://" + addr + "/engine.io/"
}

// eioClient makes Engine.IO requests; with fresh set, each one on a new
// TCP connection, which lands on any loop.
type eioClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newEIOClient(t *testing.T, base string, fresh bool) *eioClient {
	tr := &http.Transport{DisableKeepAlives: fresh}
	t.Cleanup(tr.CloseIdleConnections)
	return &eioClient{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: wstest.Timeout}}
}

// do makes a request with query (after the base URL's "?") and returns
// its status, body and content type.
func (c *eioClient) do(method, query, body string) (int, string, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+"?"+query, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body == "" {
		req.Body = nil
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading: %v", method, query, err)
	}
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

// handshake opens a polling session and returns its sid and open packet.
func (c *eioClient) handshake() (string, eioOpen) {
	c.t.Helper()
	status, body, _ := c.do(http.MethodGet, "EIO=4&transport=polling", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		c.t.Fatalf("handshake: %d %q", status, body)
	}
	var o eioOpen
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		c.t.Fatalf("open packet %q: %v", body, err)
	}
	return o.SID, o
}

// get polls session sid.
func (c *eioClient) get(sid string) (int, string) {
	c.t.Helper()
	status, body, _ := c.do(http.MethodGet, "EIO=4&transport=polling&sid="+sid, "")
	return status, body
}

// post sends a payload to session sid.
func (c *eioClient) post(sid, payload string) (int, string) {
	c.t.Helper()
	status, body, _ := c.do(http.MethodPost, "EIO=4&transport=polling&sid="+sid, payload)
	return status, body
}

// eioOpen is the open packet's JSON.
type eioOpen struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// eioWS dials the Engine.IO WebSocket with query.
func eioWS(t *testing.T, base, query string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"?"+query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// read reads the next WebSocket message, with a deadline as a hang guard.
func wsRead(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	kind, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kind, string(b)
}

// wsClosed waits until the server closes ws, reading what comes first.
func wsClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the WebSocket stayed open")
			}
			return
		}
	}
}

// rawDial opens a TCP connection of its own to the server of base (an
// Engine.IO URL), closed when the test ends, and returns it with the
// server's host:port.
func rawDial(t *testing.T, base string) (net.Conn, string) {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimSuffix(base, "/engine.io/"), "http://")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc, host
}

// rawGet sends a poll on its own TCP connection and returns it unread, so
// that a test can drop it.
func rawGet(t *testing.T, base, sid string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, host := rawDial(t, base)
	fmt.Fprintf(nc, "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n\r\n", sid, host)
	return nc, bufio.NewReader(nc)
}

// readRaw reads the response of a rawGet.
func readRaw(t *testing.T, nc net.Conn, br *bufio.Reader) (int, string) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the poll: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// heldPolls waits until the server's sessions hold n polls.
func heldPolls(t *testing.T, srv *server.Server, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d held polls", n), func() bool { return server.EngineHeldPolls(srv) == n })
}

var _ = session.StateOpen
