package server_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// countingPush is Push that counts the sessions its handler saw open and
// close.
type countingPush struct {
	*server.Push
	mu             sync.Mutex
	opened, closed int
	closedUnopened int // OnClose for a session OnOpen never saw
	open           map[*server.Session]bool
}

func (h *countingPush) OnOpen(s *server.Session) {
	h.mu.Lock()
	h.opened++
	h.open[s] = true
	h.mu.Unlock()
	h.Push.OnOpen(s)
}

func (h *countingPush) OnClose(s *server.Session, code server.StatusCode, reason string) {
	h.mu.Lock()
	h.closed++
	if !h.open[s] {
		h.closedUnopened++
	}
	delete(h.open, s)
	h.mu.Unlock()
	h.Push.OnClose(s, code, reason)
}

// TestHTTPStats: whatever HTTP clients do (streams, polls kept alive or
// not, preflights, HEAD, /send, errors, clients that vanish), the
// server's gauges come back to zero once they have left, the handler sees
// each session open once and close once, and history holds what its
// configuration says.
func TestHTTPStats(t *testing.T) {
	t.Parallel()
	h := &countingPush{Push: server.NewPush(&server.PushConfig{ClientPublish: true}), open: map[*server.Session]bool{}}
	const kept = 10
	srv, addr := start(t, h, server.Config{
		History: keepHistory(kept), Protocols: []string{"c1m.v1.json"},
		Pages: map[string]server.Page{"/page": {ContentType: "text/plain", Body: []byte("page")}},
	})

	publishRange(t, srv, "stats-a", "m", 0, 3*kept)
	publishRange(t, srv, "stats-b", "m", 0, kept/2)
	if hs := srv.Hub().History(); hs.Topics != 2 || hs.Entries != kept+kept/2 || hs.Bytes <= 0 {
		t.Fatalf("history %+v, want 2 topics and %d entries", hs, kept+kept/2)
	}

	// Streams, one of which gets a /send.
	for _, tc := range streamPaths {
		s := openStream(t, addr, tc.path+"topic=stats-a", "")
		s.expectStart("stats-a", false)
		if status, _ := send(t, addr, s.sid, `{"op":"subscribe","topic":"stats-b","id":1}`, true); status != http.StatusAccepted {
			t.Fatalf("send: status %d", status)
		}
		s.close()
	}
	// Polls kept alive or not, preflights, HEAD, pages, refusals.
	for _, req := range []string{
		"GET /poll?topic=stats-a&wait=0 HTTP/1.1\r\n\r\n",
		"GET /poll?topic=stats-a&wait=0 HTTP/1.0\r\n\r\n",
		"GET /poll?topic=stats-a&wait=0 HTTP/1.1\r\nConnection: close\r\n\r\n",
		"HEAD /sse?topic=stats-a HTTP/1.1\r\nConnection: close\r\n\r\n",
		"OPTIONS /poll HTTP/1.0\r\n\r\n",
		"GET /page HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /page HTTP/1.0\r\n\r\n",
		"GET /poll?callback=cb HTTP/1.1\r\n\r\n",
		"GET /poll?cursor=bad HTTP/1.1\r\n\r\n",
		sendRequest("", `{"op":"publish","topic":"stats-c","data":"x","id":2}`, false),
		sendRequest("nope.1", `{"op":"subscribe","topic":"x"}`, false),
	} {
		c := dialRaw(t, addr)
		c.write(req)
		method := req[:len(req)-len(req[indexByte(req, ' '):])]
		c.response(method)
		c.nc.Close()
	}
	waitGone(t, srv)
	// A held poll whose client vanishes, and a WebSocket client.
	c := dialRaw(t, addr)
	c.write("GET /poll?topic=stats-a HTTP/1.1\r\n\r\n")
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=stats-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held poll and the WebSocket", func() bool { return sessions(srv) == 2 })
	c.nc.Close()
	ws.Close()

	waitGone(t, srv)
	if tot := srv.Hub().Totals(); tot.Evictions[session.ReasonSlowConsumer.String()] != 0 {
		t.Fatalf("evictions %v", tot.Evictions)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closedUnopened != 0 || h.opened != h.closed {
		t.Fatalf("handler saw %d opens and %d closes, %d of a session it never saw open", h.opened, h.closed, h.closedUnopened)
	}
	// Subscriptions added nothing to history; a topic without entries and
	// subscribers is forgotten.
	if hs := srv.Hub().History(); hs.Entries != kept+kept/2+1 {
		t.Fatalf("history %+v, want %d entries", hs, kept+kept/2+1)
	}
}

// waitGone waits until the server has no connection and no session left.
func waitGone(t *testing.T, srv *server.Server) {
	t.Helper()
	deadline := time.Now().Add(wstest.Timeout)
	for {
		tot := srv.Hub().Totals()
		if tot.Connections == 0 && tot.Sessions == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections and %d sessions left, want none", tot.Connections, tot.Sessions)
		}
		time.Sleep(time.Millisecond)
	}
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return -1
}
