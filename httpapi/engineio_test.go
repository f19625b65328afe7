package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestEngineIOStats: Engine.IO sessions are counted by transport in
// /api/stats and /metrics, and in the sessions (not the connections: a
// polling session holds none between its requests).
func TestEngineIOStats(t *testing.T) {
	t.Parallel()
	srv := startPush(t, server.Config{Loops: 2, Timing: session.Config{CloseTimeout: 100 * time.Millisecond}, Engine: &server.EngineConfig{Path: "/engine.io/", PingInterval: time.Hour}})
	hs := httptest.NewServer(httpapi.New(srv, nil))
	t.Cleanup(hs.Close)
	base := "http://" + srv.Addr().String() + "/engine.io/?EIO=4&transport="
	for range 2 {
		if status, body := do(t, "GET", base+"polling", ""); status != 200 || !strings.HasPrefix(body, "0{") {
			t.Fatalf("handshake %d %q", status, body)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	// The polls' kept-alive connection goes; the sessions stay.
	http.DefaultClient.CloseIdleConnections()
	var st httpapi.Stats
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, body := do(t, "GET", hs.URL+"/api/stats", "")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if st.Connections == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st.EngineIO.Polling != 2 || st.EngineIO.WebSocket != 1 || st.Sessions != 3 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	_, metrics := do(t, "GET", hs.URL+"/metrics", "")
	for _, want := range []string{`c1m_engineio_sessions{transport="polling"} 2`, `c1m_engineio_sessions{transport="websocket"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
}
