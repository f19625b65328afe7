// Package interop drives independent WebSocket clients against
// examples/echo, built and run as a separate process: Node's `ws`, Python's
// `websockets` (Debian's python3-websockets) and headless Chromium. `make
// test` installs them (scripts/test-deps.sh); a missing one fails the test.
package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var echoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "c1m-interop")
	if err != nil {
		panic(err)
	}
	echoBin = filepath.Join(dir, "echo")
	if out, err := exec.Command("go", "build", "-race", "-o", echoBin, "../../examples/echo").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startEcho runs the echo binary on a free port and returns ws://host:port/.
func startEcho(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(echoBin, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("echo did not report its address: %q %v", line, err)
	}
	return "ws://" + addr + "/"
}

// need finds a tool or fails: `make test` installs it.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: `make test` installs it (scripts/test-deps.sh)", name)
	}
	return p
}

// runClient runs a client script and checks its JSON verdict.
func runClient(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	var verdict struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &verdict); jerr != nil || err != nil || !verdict.OK {
		t.Fatalf("%s: %v; output %s", name, err, out)
	}
	t.Logf("%s", out)
}

func TestNodeWS(t *testing.T) {
	t.Parallel()
	node := need(t, "node")
	if _, err := os.Stat("node/node_modules/ws"); err != nil {
		t.Fatal("node/node_modules/ws missing: `make test` runs npm ci (scripts/test-deps.sh)")
	}
	runClient(t, node, "node/client.mjs", startEcho(t))
}

func TestPythonWebsockets(t *testing.T) {
	t.Parallel()
	// Debian's interpreter: python3 on PATH may be another one without
	// Debian's modules.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = need(t, "python3")
	}
	runClient(t, py, "python/client.py", startEcho(t))
}

// page opens a WebSocket to the echo server given in its query, round-trips
// text (with non-ASCII) and binary, and posts what it saw back to the test.
const page = `<!doctype html><meta charset="utf-8"><script>
const url = new URLSearchParams(location.search).get("ws");
const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
const seen = [];
ws.onopen = () => { ws.send("héllo wörld ✓"); ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]).buffer); };
ws.onmessage = (e) => {
  seen.push(typeof e.data === "string" ? "text:" + e.data : "binary:" + Array.from(new Uint8Array(e.data)).join(","));
  if (seen.length === 2) {
    ws.close(1000);
    fetch("/result", {method: "POST", body: JSON.stringify({seen, extensions: ws.extensions})});
  }
};
ws.onerror = () => fetch("/result", {method: "POST", body: JSON.stringify({error: "websocket error"})});
</script>`

func TestChromium(t *testing.T) {
	t.Parallel()
	chromium := need(t, "chromium")
	echo := startEcho(t)
	results := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(page)) })
	mux.HandleFunc("/result", func(_ http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		_, _ = bufio.NewReader(r.Body).WriteTo(&b)
		results <- b.String()
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Run(bctx, chromedp.Navigate(hs.URL+"/?ws="+echo)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Seen       []string `json:"seen"`
		Extensions string   `json:"extensions"`
		Error      string   `json:"error"`
	}
	select {
	case r := <-results:
		if err := json.Unmarshal([]byte(r), &got); err != nil {
			t.Fatalf("result %q: %v", r, err)
		}
	case <-ctx.Done():
		t.Fatal("the page never reported")
	}
	want := []string{"text:héllo wörld ✓", "binary:0,1,2,253,254,255"}
	if got.Error != "" || strings.Join(got.Seen, "|") != strings.Join(want, "|") {
		t.Fatalf("page saw %+v, want %q", got, want)
	}
	// Chromium offers permessage-deflate; the echo server accepts it.
	if !strings.Contains(got.Extensions, "permessage-deflate") {
		t.Fatalf("extensions %q", got.Extensions)
	}
	t.Logf("chromium: %q over %q", got.Seen, got.Extensions)
}
