package interop

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browserTimeout bounds Chromium's start, the page's run and its report.
// Generous: a cold Chromium start on a loaded 2-core machine takes seconds.
const browserTimeout = 90 * time.Second

//go:embed browser/index.html
var browserPage []byte

// browserMsg is one message as the page sends or receives it: text as is,
// binary as hex, so that the JSON round trip is exact.
type browserMsg struct {
	Kind string `json:"kind"`
	Data string `json:"data"`
}

// browserReport is what the page posts to /result once the socket closed.
type browserReport struct {
	Error      string       `json:"error"`
	UserAgent  string       `json:"userAgent"`
	Extensions string       `json:"extensions"`
	Echoes     []browserMsg `json:"echoes"`
	Close      struct {
		Code     int  `json:"code"`
		WasClean bool `json:"wasClean"`
	} `json:"close"`
}

// browserMessages are sent all at once, so the echoes also show order.
// 70,000 bytes take a 64-bit frame length, 1 MiB many deflate blocks.
func browserMessages() []browserMsg {
	src := rand.NewChaCha8([32]byte{'c', '1', 'm'}) // fixed: a failure reproduces
	rng := rand.New(src)
	var long strings.Builder
	for long.Len() < 1<<20 {
		long.WriteString([]string{"a", "é", "€", "😀", " ", "ж"}[rng.IntN(6)])
	}
	blob := make([]byte, 70_000)
	_, _ = src.Read(blob)
	return []browserMsg{
		{"text", ""},
		{"text", "héllo wörld ✓"},
		{"text", "日本語 😀 ∑ ж"}, // 3- and 4-byte UTF-8
		{"text", long.String()},
		{"binary", ""},
		{"binary", hex.EncodeToString([]byte{0, 1, 2, 0x7f, 0x80, 0xfd, 0xfe, 0xff})},
		{"binary", hex.EncodeToString(blob)},
	}
}

// startChromium runs headless Chromium on url in its own process group
// and profile; cleanup kills the group (browser, renderer, zygote...).
// The returned channel closes when the browser exits; stderr is readable
// after that.
func startChromium(t *testing.T, url string) (exited <-chan struct{}, stderr *bytes.Buffer) {
	t.Helper()
	bin := need(t, "chromium")
	profile := t.TempDir() // removed after the kill below: cleanups run LIFO
	cmd := exec.Command(bin,
		// --no-sandbox: CI runs as root, where the sandbox refuses to start.
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		// Nothing but our two loopback servers: no QUIC, proxy, updates,
		// sync or first-run traffic.
		"--disable-quic", "--no-proxy-server", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second // children may hold stderr after the browser exits
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	return done, stderr
}

func TestChromium(t *testing.T) {
	t.Parallel()
	const closeCode = 4001
	want := browserMessages()
	plan, err := json.Marshal(map[string]any{"url": startEcho(t), "messages": want, "closeCode": closeCode})
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan []byte, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(browserPage)
	})
	mux.HandleFunc("GET /plan", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(plan) })
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
		if err != nil {
			body = []byte(`{"error":"reading the report: ` + err.Error() + `"}`)
		}
		select {
		case reports <- body:
		default: // only the first report counts
		}
	})
	hs := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(hs.Close)

	exited, stderr := startChromium(t, hs.URL+"/")
	var got browserReport
	select {
	case body := <-reports:
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("report %.500q: %v", body, err)
		}
	case <-exited:
		t.Fatalf("chromium exited before the page reported; stderr:\n%s", stderr.String())
	case <-time.After(browserTimeout):
		t.Fatalf("no report from the page within %v", browserTimeout)
	}

	if got.Error != "" {
		t.Fatalf("page error: %s", got.Error)
	}
	if len(got.Echoes) != len(want) {
		t.Errorf("got %d echoes, want %d", len(got.Echoes), len(want))
	}
	for i := range min(len(got.Echoes), len(want)) {
		if g, w := got.Echoes[i], want[i]; g != w {
			at := 0 // first differing byte of the data (hex digit for binary)
			for at < min(len(g.Data), len(w.Data)) && g.Data[at] == w.Data[at] {
				at++
			}
			t.Errorf("echo %d: %s, len %d; want %s, len %d; first difference at %d: %.20q vs %.20q",
				i, g.Kind, len(g.Data), w.Kind, len(w.Data), at, g.Data[at:], w.Data[at:])
		}
	}
	// Chromium always offers permessage-deflate, which the echo accepts.
	if !strings.HasPrefix(got.Extensions, "permessage-deflate") {
		t.Errorf("negotiated extensions %q, want permessage-deflate", got.Extensions)
	}
	if got.Close.Code != closeCode || !got.Close.WasClean {
		t.Errorf("close %+v, want a clean close with code %d", got.Close, closeCode)
	}
	t.Logf("%s: %d echoes over %q", got.UserAgent, len(got.Echoes), got.Extensions)
}
