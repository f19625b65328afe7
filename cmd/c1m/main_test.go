package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "c1m-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "c1m")
	out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is a running c1m binary.
type instance struct {
	cmd     *exec.Cmd
	clients string // ws://host:port/ws
	api     string // http://host:port
	exited  chan error

	mu     sync.Mutex
	notice []string // the binary's last warnings and errors, for failures
}

// noticesKept bounds instance.notice.
const noticesKept = 20

// notices returns the binary's last warnings and errors, to explain a
// failure. Safe for concurrent use.
func (in *instance) notices() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.notice)
}

// startC1M starts the binary on free ports and waits for its ready line.
func startC1M(t *testing.T, args ...string) *instance {
	t.Helper()
	return startC1MWith(t, nil, args...)
}

// startC1MWith is startC1M with extra environment variables (KEY=value)
// for the child process only.
func startC1MWith(t *testing.T, env []string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd, a c1m binary however it is wrapped, and waits for
// its ready line.
func startCmd(t *testing.T, cmd *exec.Cmd) *instance {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, exited: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Level, Msg, Clients, API string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch {
			case line.Msg == "c1m: ready":
				in.clients, in.api = line.Clients, line.API
				close(ready)
			case line.Level == "WARN" || line.Level == "ERROR":
				in.mu.Lock()
				if len(in.notice) == noticesKept {
					in.notice = slices.Delete(in.notice, 0, 1)
				}
				in.notice = append(in.notice, sc.Text())
				in.mu.Unlock()
			}
		}
		in.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("c1m did not report ready")
	}
	return in
}

func (in *instance) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(in.clients+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

func (in *instance) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := http.Post(in.api+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// TestPublishReachesSubscribers is the README's promise: a publication made
// with curl's request reaches every client of the topic, and only them.
func TestPublishReachesSubscribers(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	news := []*websocket.Conn{in.dial(t, "?topic=news"), in.dial(t, "?topic=news"), in.dial(t, "?topic=sport&topic=news")}
	other := in.dial(t, "?topic=sport")
	// The same request as `curl -d hello 'http://127.0.0.1:8081/api/publish?topic=news'`.
	resp, err := http.Post(in.api+"/api/publish?topic=news", "application/x-www-form-urlencoded", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	var ack struct {
		Topic  string
		Offset uint64
	}
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || ack.Topic != "news" || ack.Offset != 1 {
		t.Fatalf("publish answer %+v %v", ack, err)
	}
	resp.Body.Close()
	for i, c := range news {
		if typ, p, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != "hello" {
			t.Fatalf("news client %d: %d %q %v", i, typ, p, err)
		}
	}
	in.post(t, "/api/broadcast", "bye")
	if _, p, err := other.ReadMessage(); err != nil || string(p) != "bye" {
		t.Fatalf("sport client: %q %v, want only the broadcast", p, err)
	}
}

// TestAPIKey: with -api-key, /api/ needs the bearer token.
func TestAPIKey(t *testing.T) {
	t.Parallel()
	in := startC1M(t, "-api-key", "s3cret")
	resp, err := http.Post(in.api+"/api/publish?topic=news", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without key: %s", resp.Status)
	}
	req, _ := http.NewRequest("POST", in.api+"/api/publish?topic=news", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with key: %s", resp.Status)
	}
}

// TestGracefulShutdown: on SIGTERM readiness flips, every client gets close
// 1001, and the process exits within its drain bound.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const drain = 3 * time.Second
	in := startC1M(t, "-drain", drain.String(), "-drain-spread", "500ms")
	clients := make([]*websocket.Conn, 10)
	for i := range clients {
		clients[i] = in.dial(t, "?topic=news")
	}
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("client %d: %v, want close 1001", i, err)
		}
	}
	select {
	case err := <-in.exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(drain + 5*time.Second): // the bound plus process start-up slack
		t.Fatalf("c1m still running %v after SIGTERM", drain+5*time.Second)
	}
}
