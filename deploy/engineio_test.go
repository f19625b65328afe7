package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// eioClients is how many client addresses stickyEngineIO uses, as
// stickyClients for the streams.
const eioClients = 32

// stickyEngineIO checks, with two nodes or more, that every request of an
// Engine.IO polling session (its handshake, a post, a poll) reaches the
// node that took the handshake, for clients from many addresses: a node
// answers a session it does not hold 400 (docs/cluster.md), so the proxy
// must stick, as it does for streams.
func stickyEngineIO(t *testing.T, p *proxy) {
	for i := range eioClients {
		c := p.client(fmt.Sprintf("127.0.2.%d", i+1))
		status, body := eioDo(t, c, http.MethodGet, p.base, "", "")
		if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
			t.Fatalf("client %d: handshake %d %q", i, status, body)
		}
		var open struct{ SID string }
		if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
			t.Fatalf("client %d: open packet %q: %v", i, body, err)
		}
		sid := "&sid=" + open.SID
		// Socket.IO's CONNECT, posted, and its answer, polled: both
		// must reach the session.
		if status, body := eioDo(t, c, http.MethodPost, p.base, sid, "40"); status != http.StatusOK || body != "ok" {
			t.Fatalf("client %d: post through %s: %d %q, want 200 ok (the session's node)", i, p.name, status, body)
		}
		if status, body := eioDo(t, c, http.MethodGet, p.base, sid, ""); status != http.StatusOK || !strings.HasPrefix(body, "40{") {
			t.Fatalf("client %d: poll through %s: %d %q, want the CONNECT answer (the session's node)", i, p.name, status, body)
		}
		c.CloseIdleConnections()
	}
}

// eioDo makes an Engine.IO polling request through the proxy at base.
func eioDo(t *testing.T, c *http.Client, method, base, query, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+"/socket.io/?EIO=4&transport=polling"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
