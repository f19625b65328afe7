package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestEnvironment: every flag has a C1M_ variable, and a flag on the
// command line wins over it.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	t.Run("variables", func(t *testing.T) {
		t.Parallel()
		in := startC1MWith(t, []string{"C1M_PATH=/push", "C1M_API_KEY=from-env"})
		if !strings.HasSuffix(in.clients, "/push") {
			t.Fatalf("clients at %s, want the path from C1M_PATH", in.clients)
		}
		c := in.dial(t, "?topic=news")
		req, _ := http.NewRequest("POST", in.api+"/api/publish?topic=news", strings.NewReader("env"))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("publish without the key from C1M_API_KEY: %v %v", resp, err)
		}
		req, _ = http.NewRequest("POST", in.api+"/api/publish?topic=news", strings.NewReader("env"))
		req.Header.Set("Authorization", "Bearer from-env")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("publish with the key: %v %v", resp, err)
		}
		resp.Body.Close()
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "env" {
			t.Fatalf("%q %v", p, err)
		}
	})
	t.Run("flag wins", func(t *testing.T) {
		t.Parallel()
		in := startC1MWith(t, []string{"C1M_PATH=/from-env"}, "-path", "/from-flag")
		if !strings.HasSuffix(in.clients, "/from-flag") {
			t.Fatalf("clients at %s, want the flag's path", in.clients)
		}
		in.dial(t, "")
	})
	t.Run("bad value", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(binary, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "C1M_LOOPS=many")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "C1M_LOOPS") {
			t.Fatalf("exit %v, output %q: want exit 2 naming C1M_LOOPS", err, out)
		}
	})
}

// TestProbesAndPprof: the probes answer, pprof serves its index and a
// profile, and /metrics counts what happened.
func TestProbesAndPprof(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/heap?debug=1"} {
		if code, body := get(t, in.api+path); code != http.StatusOK || body == "" {
			t.Fatalf("GET %s: %d %q", path, code, body)
		}
	}
	c := in.dial(t, "?topic=news")
	in.post(t, "/api/publish?topic=news", "m")
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "m" {
		t.Fatalf("%q %v", p, err)
	}
	_, metrics := get(t, in.api+"/metrics")
	sum := func(name string) float64 {
		var total float64
		for _, line := range strings.Split(metrics, "\n") {
			if rest, ok := strings.CutPrefix(line, name+"{"); ok {
				var v float64
				if _, err := fmt.Sscan(rest[strings.Index(rest, "}")+1:], &v); err == nil {
					total += v
				}
			}
		}
		return total
	}
	if got := sum("c1m_sessions"); got != 1 {
		t.Fatalf("c1m_sessions %v, want 1", got)
	}
	if got := sum("c1m_deliveries_total"); got != 1 {
		t.Fatalf("c1m_deliveries_total %v, want 1", got)
	}
}

// TestDrainWithSilentClient: on SIGTERM /readyz answers 503 while the drain
// runs, a client that never answers the close frame does not hold the
// process past its drain bound, and the clients that do answer get 1001.
func TestDrainWithSilentClient(t *testing.T) {
	t.Parallel()
	const drain = 2 * time.Second
	in := startC1M(t, "-drain", drain.String(), "-drain-spread", "200ms")
	polite := in.dial(t, "?topic=news")
	u, _ := url.Parse(in.clients)
	silent, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	_, _ = io.WriteString(silent, "GET "+u.Path+" HTTP/1.1\r\nHost: "+u.Host+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(silent), nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("silent client's upgrade: %v %v", resp, err)
	}

	signalled := time.Now()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, _, err := polite.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("polite client: %v, want close 1001", err)
	}
	// The silent client keeps the drain going: readiness must say so.
	if code, _ := get(t, in.api+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the drain: %d, want 503", code)
	}
	// The bound: the drain, the engine's stop and the process's exit. The
	// slack is for a race-instrumented binary on a busy machine.
	const slack = 5 * time.Second
	select {
	case err := <-in.exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		t.Logf("exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	case <-time.After(drain + slack):
		t.Fatalf("c1m still running %v after SIGTERM with a silent client", drain+slack)
	}
}
