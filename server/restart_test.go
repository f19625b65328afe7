package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
)

// TestRestartOnSamePort: a server that closed connections (which leaves
// them in TIME_WAIT on its side) is followed at once by a new one on the
// same port, as a restarted binary is.
func TestRestartOnSamePort(t *testing.T) {
	t.Parallel()
	first := server.New(server.NewPush(nil), &server.Config{Addr: "127.0.0.1:0", DrainSpread: -1, Timing: fastTiming})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	addr := first.Addr().String()
	for range 3 {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=t", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil && err != server.ErrServerClosed {
		t.Fatal(err)
	}
	second := server.New(server.NewPush(nil), &server.Config{Addr: addr})
	serve(t, second) // fails the test when the port cannot be bound again
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=t", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestPagesCORS: a static page is readable cross-origin only by the
// origins Config.AllowedOrigins allows.
func TestPagesCORS(t *testing.T) {
	t.Parallel()
	pages := map[string]server.Page{"/stats.json": {ContentType: "application/json", Body: []byte(`{}`)}}
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string
		want    string
	}{
		{"same origin only", nil, "http://evil.example", ""},
		{"allowed", []string{"app.example"}, "http://app.example", "http://app.example"},
		{"not allowed", []string{"app.example"}, "http://evil.example", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := start(t, server.BuiltinHandler{}, server.Config{Pages: pages, AllowedOrigins: tc.allowed})
			req, _ := http.NewRequest("GET", "http://"+addr+"/stats.json", nil)
			req.Header.Set("Origin", tc.origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != 200 || got != tc.want {
				t.Fatalf("%d, Access-Control-Allow-Origin %q, want 200 and %q", resp.StatusCode, got, tc.want)
			}
		})
	}
}
