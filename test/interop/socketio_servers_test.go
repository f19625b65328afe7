package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

// The servers of the Socket.IO and Engine.IO tests. Every test of these
// suites runs against the reference (the npm socket.io and engine.io
// servers, node/sio-reference-server.mjs) and against c1m: its
// examples/socketio, and the c1m binary for rooms. A case passes only when
// both give the same answer, the reference's.

// sioServer is a running server of these tests.
type sioServer struct {
	name string // "reference", "examples/socketio" or "c1m"
	base string // http://127.0.0.1:PORT, the client port
	api  string // http://127.0.0.1:PORT with POST /api/publish?topic=
}

// The modes of examples/socketio and of the reference server.
const (
	sioSuite   = ""               // the socket.io-protocol test-suite server on /socket.io/
	sioEngine  = "-engineio-echo" // plain Engine.IO echo on /engine.io/
	sioRooms   = "-rooms"         // the reference's imitation of the c1m binary
	sioExample = "github.com/c1mhq/c1m/examples/socketio"
	c1mPkg     = "github.com/c1mhq/c1m/cmd/c1m"
)

// sioRefScript is the reference server, relative to this package.
const sioRefScript = "node/sio-reference-server.mjs"

// startReference runs node/sio-reference-server.mjs in mode (sioSuite,
// sioEngine or sioRooms, with extra flags) on a free loopback port until
// the test ends.
func startReference(t *testing.T, mode ...string) sioServer {
	t.Helper()
	if _, err := os.Stat("node/node_modules/socket.io/package.json"); err != nil {
		t.Fatal("node/node_modules/socket.io missing: `make test-deps` (scripts/test-deps.sh) runs npm ci")
	}
	args := append([]string{sioRefScript, "-addr", "127.0.0.1:0"}, nonEmpty(mode)...)
	addr := startListening(t, "reference", exec.Command(need(t, "node"), args...))
	return sioServer{name: "reference", base: "http://" + addr, api: "http://" + addr}
}

// startExample runs examples/socketio in mode on a free loopback port
// until the test ends. It skips the test when this tree has no
// examples/socketio yet (the Engine.IO and Socket.IO layers land in their
// own branches).
func startExample(t *testing.T, mode ...string) sioServer {
	t.Helper()
	bin := buildCmd(t, sioExample)
	args := append([]string{"-addr", "127.0.0.1:0"}, nonEmpty(mode)...)
	addr := startListening(t, "examples/socketio", exec.Command(bin, args...))
	return sioServer{name: "examples/socketio", base: "http://" + addr, api: ""}
}

func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

var (
	buildMu   sync.Mutex
	built     = map[string]string{} // package → binary
	buildErrs = map[string]error{}
)

// buildCmd builds pkg once per test binary (with -race when the tests run
// with it) and returns the binary's path. A package missing from this
// tree skips the test, saying so; any other build failure fails it.
func buildCmd(t *testing.T, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	if err, ok := buildErrs[pkg]; ok {
		t.Fatalf("go build %s: %v", pkg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "list", pkg).CombinedOutput(); err != nil {
		t.Skipf("%s is not in this tree yet: %s", pkg, bytes.TrimSpace(out))
	}
	bin := filepath.Join(binDir, strings.ReplaceAll(pkg, "/", "_"))
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.CommandContext(ctx, "go", append(args, pkg)...).CombinedOutput()
	if err != nil {
		buildErrs[pkg] = errors.New(err.Error() + "\n" + string(out))
		t.Fatalf("go build %s: %v", pkg, buildErrs[pkg])
	}
	built[pkg] = bin
	return bin
}

// startListening starts cmd, which must print "listening HOST:PORT" as its
// first line on stdout, and returns HOST:PORT. Cleanup sends SIGTERM and
// fails the test if the process does not exit in time, exits non-zero, or
// reported a data race.
func startListening(t *testing.T, name string, cmd *exec.Cmd) string {
	t.Helper()
	stdout := &firstLine{ready: make(chan string, 1)}
	var stderr bytes.Buffer // read only after Wait returns
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	skipped := false // the process exited by design: nothing to stop
	t.Cleanup(func() {
		if !skipped {
			stopProcess(t, name, cmd, exited, &waitErr, &stderr)
		}
	})

	select {
	case line := <-stdout.ready:
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("%s's first line is %q, want \"listening 127.0.0.1:PORT\"", name, line)
		}
		return addr
	case <-exited:
		if strings.Contains(stderr.String(), "not built yet") {
			skipped = true
			t.Skipf("%s: %s", name, strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("%s exited before printing its address: %v\n%s", name, waitErr, stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("%s printed no \"listening\" line within %v", name, startTimeout)
	}
	return ""
}

// stopProcess ends a server of these tests with SIGTERM (SIGKILL for its
// whole process group after stopTimeout) and checks how it ended.
func stopProcess(t *testing.T, name string, cmd *exec.Cmd, exited chan struct{}, waitErr *error, stderr *bytes.Buffer) {
	select {
	case <-exited:
		t.Errorf("%s exited before it was told to: %v\n%s", name, *waitErr, stderr.String())
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		t.Errorf("%s did not exit within %v of SIGTERM", name, stopTimeout)
	}
	if *waitErr != nil {
		t.Errorf("%s exited with %v; stderr:\n%s", name, *waitErr, stderr.String())
	} else if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("%s reported a data race:\n%s", name, stderr.String())
	}
}

// startC1mBinary runs the c1m binary with args on free loopback ports until
// the test ends, and returns its client and API bases. It skips the test
// when the binary does not serve Socket.IO yet (no -socketio-path flag).
func startC1mBinary(t *testing.T, args ...string) sioServer {
	t.Helper()
	bin := buildCmd(t, c1mPkg)
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-demo=false"}, args...)...)
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	ready := make(chan [2]string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderrPipe)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			// stderr is read only once the scanner is done (exited)
			stderr.Write(sc.Bytes())
			stderr.WriteByte('\n')
			var line struct{ Msg, Clients, API string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "c1m: ready" {
				ready <- [2]string{line.Clients, line.API}
			}
		}
	}()
	var waitErr error
	exited := make(chan struct{})
	go func() { <-scanned; waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { stopProcess(t, "c1m", cmd, exited, &waitErr, &stderr) })
	select {
	case r := <-ready:
		// clients is ws://HOST:PORT/PATH
		host := strings.TrimPrefix(r[0], "ws://")
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		return sioServer{name: "c1m", base: "http://" + host, api: r[1]}
	case <-exited:
		if strings.Contains(stderr.String(), "flag provided but not defined") {
			t.Skipf("the c1m binary in this tree does not serve Socket.IO yet: %s", firstLineOf(stderr.String()))
		}
		t.Fatalf("c1m exited before it was ready: %v\n%s", waitErr, stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("c1m was not ready within %v", startTimeout)
	}
	return sioServer{}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
