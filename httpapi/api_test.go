package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
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

// startPush runs a push server with cfg for the test's lifetime.
func startPush(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv := server.New(server.NewPush(nil), &cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

func setup(t *testing.T) (*server.Server, *httpapi.API, *httptest.Server) {
	t.Helper()
	srv := startPush(t, server.Config{Loops: 2})
	api := httpapi.New(srv, &httpapi.Config{MaxBody: 16})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	return srv, api, hs
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	_, _, hs := setup(t)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"no topic", "POST", "/api/publish", "x", http.StatusBadRequest},
		{"reserved topic", "POST", "/api/publish?topic=$user:ann", "x", http.StatusBadRequest},
		{"body over the limit", "POST", "/api/publish?topic=a", strings.Repeat("x", 17), http.StatusRequestEntityTooLarge},
		{"GET publish", "GET", "/api/publish?topic=a", "", http.StatusMethodNotAllowed},
		{"ok", "POST", "/api/publish?topic=a", "x", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := do(t, tc.method, hs.URL+tc.path, tc.body); got != tc.status {
				t.Fatalf("status %d (%s), want %d", got, body, tc.status)
			}
		})
	}
}

func TestStatsAndMetrics(t *testing.T) {
	t.Parallel()
	srv, api, hs := setup(t)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws?topic=a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	do(t, "POST", hs.URL+"/api/publish?topic=a", "hello")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello" {
		t.Fatalf("%q %v", p, err)
	}

	_, body := do(t, "GET", hs.URL+"/api/stats", "")
	var st httpapi.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Connections != 1 || st.Sessions != 1 || st.Deliveries != 1 || st.HeapAllocBytes == 0 || len(st.Loops) == 0 {
		t.Fatalf("stats %+v", st)
	}
	_, metrics := do(t, "GET", hs.URL+"/metrics", "")
	for _, want := range []string{"c1m_deliveries_total", "c1m_fanout_latency_seconds_count 1", "c1m_evictions_total", "c1m_loop_lag_seconds", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	if got, _ := do(t, "GET", hs.URL+"/readyz", ""); got != http.StatusOK {
		t.Fatalf("readyz %d", got)
	}
	api.SetReady(false)
	if got, _ := do(t, "GET", hs.URL+"/readyz", ""); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining %d", got)
	}
}

// TestPublishBacklog: while a loop is behind by its whole publication
// backlog, the API answers 503 with Retry-After and publishes nothing; once
// the loop catches up, publishing works again and subscribers got exactly
// what was accepted.
func TestPublishBacklog(t *testing.T) {
	t.Parallel()
	const fits = 4
	// A 16-byte publication waiting in the inbox counts 16 bytes and the
	// session package's publicationOverhead (640 bytes on amd64, with room
	// for the Engine.IO forms).
	srv := startPush(t, server.Config{Loops: 1, Timing: session.Config{MaxBacklog: fits * 700}})
	hs := httptest.NewServer(httpapi.New(srv, nil))
	t.Cleanup(hs.Close)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws?topic=a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Hold the loop so that publications wait in its inbox.
	held, release := make(chan struct{}), make(chan struct{})
	if err := (*session.Hub)(srv.Hub()).Shards()[0].Post(func() { close(held); <-release }); err != nil {
		t.Fatal(err)
	}
	<-held
	accepted := 0
	for i := 0; i < 2*fits; i++ {
		req, _ := http.NewRequest("POST", hs.URL+"/api/publish?topic=a", strings.NewReader("0123456789abcdef"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			accepted++
		case http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		default:
			t.Fatalf("publish %d: %s", i, resp.Status)
		}
	}
	close(release)
	if accepted != fits {
		t.Fatalf("%d publications accepted while the loop was held, want %d", accepted, fits)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range fits {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	// The backlog empties once the loop has written them (it settles them
	// right after the writes, which may be after the client has read).
	sh := (*session.Hub)(srv.Hub()).Shards()[0]
	for deadline := time.Now().Add(10 * time.Second); sh.Backlog() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("backlog %d bytes after the loop caught up", sh.Backlog())
		}
		time.Sleep(time.Millisecond)
	}
	if code, body := do(t, "POST", hs.URL+"/api/publish?topic=a", "last"); code != http.StatusOK || !strings.Contains(body, `"offset":5`) {
		t.Fatalf("after the loop caught up: %d %s", code, body)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "last" {
		t.Fatalf("last message: %q %v", p, err)
	}
}
