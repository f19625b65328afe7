// Package interop drives independent clients against c1m. WebSocket
// clients run against examples/echo, built once and run as a separate
// process per test: Node's `ws`, Python's `websockets` (Debian's
// python3-websockets), headless Chromium, and Chromium, Firefox and WebKit
// through internal/browsertest. Clients of the HTTP transports (the npm
// `eventsource`, Node's fetch, and in the three browsers EventSource,
// fetch, iframes and script tags, besides WebSocket) run against a push
// server in the test process (push_test.go), which publishes when they are
// subscribed. Our own client
// would share our misreadings of RFC 6455 and of PROTOCOL.md; these do not.
// `make test` installs the clients (scripts/test-deps.sh); a missing one
// fails its test instead of skipping it, so CI cannot pass without them
// (the browsertest engines skip outside CI, saying what to install).
package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	echoPkg = "github.com/c1mhq/c1m/examples/echo"
	// buildTimeout covers a cold build with -race on a small shared machine.
	buildTimeout = 5 * time.Minute
	// startTimeout bounds the wait for the "listening" line.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the exit after SIGTERM: the contract is to exit on
	// it, and a server that hangs in shutdown fails the test that ran it.
	stopTimeout = 10 * time.Second
)

var (
	binDir    string // removed by TestMain after the run
	buildOnce sync.Once
	echoBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "c1m-interop-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// echoBinary builds examples/echo once for all tests, on first use, so that
// `go test -run` of nothing builds nothing.
func echoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		bin := filepath.Join(binDir, "echo")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		// go test puts its own go first on PATH.
		out, err := exec.CommandContext(ctx, "go", append(args, echoPkg)...).CombinedOutput()
		if err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
			return
		}
		echoBin = bin
	})
	if buildErr != nil {
		t.Fatalf("go build %s: %v", echoPkg, buildErr)
	}
	return echoBin
}

// firstLine is the echo server's stdout: it reports the first line on
// ready and keeps the rest, which the contract says is nothing.
type firstLine struct {
	buf   bytes.Buffer
	ready chan string // receives the first line, once
}

// Write is called only by exec's copying goroutine.
func (w *firstLine) Write(p []byte) (int, error) {
	had := bytes.IndexByte(w.buf.Bytes(), '\n') >= 0
	w.buf.Write(p)
	if i := bytes.IndexByte(w.buf.Bytes(), '\n'); !had && i >= 0 {
		w.ready <- string(w.buf.Bytes()[:i])
	}
	return len(p), nil
}

// startEcho runs a fresh echo server on a free loopback port and returns
// its ws:// URL. Cleanup sends SIGTERM and fails the test if the server
// does not exit cleanly in time, exits non-zero, reports a data race, or
// wrote more than its one line to stdout.
func startEcho(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(echoBinary(t), "-addr", "127.0.0.1:0")
	stdout := &firstLine{ready: make(chan string, 1)}
	var stderr bytes.Buffer // read only after Wait returns
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()

	t.Cleanup(func() {
		select {
		case <-exited:
			t.Error("echo exited before it was told to")
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("echo did not exit within %v of SIGTERM", stopTimeout)
		}
		if waitErr != nil {
			t.Errorf("echo exited with %v; stderr:\n%s", waitErr, stderr.String())
		} else if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("echo reported a data race:\n%s", stderr.String())
		}
		if n := strings.Count(stdout.buf.String(), "\n"); n > 1 {
			t.Errorf("echo wrote %d lines to stdout, want 1:\n%s", n, stdout.buf.String())
		}
	})

	select {
	case line := <-stdout.ready:
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("echo's first line is %q, want \"listening 127.0.0.1:PORT\"", line)
		}
		return "ws://" + addr + "/"
	case <-exited:
		t.Fatal("echo exited before printing its address")
	case <-time.After(startTimeout):
		t.Fatalf("echo printed no \"listening\" line within %v", startTimeout)
	}
	return ""
}

// need finds a tool on PATH or fails the test: `make test` installs it.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH: `make test-deps` (scripts/test-deps.sh) installs it", name)
	}
	return p
}
