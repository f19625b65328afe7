package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// runNode runs a Node script of test/interop/node with args and returns
// its report (the last line), failing the test when the script does.
func runNode(t *testing.T, script string, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found on PATH: `make test-deps` (scripts/test-deps.sh) installs it")
	}
	path, _ := filepath.Abs("../../test/interop/node/" + script)
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{path}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var report struct {
		OK bool `json:"ok"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	last := lines[len(lines)-1]
	if err := json.Unmarshal(last, &report); err != nil || runErr != nil || !report.OK {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %.3000s", script, args, runErr, stdout.String(), stderr.String())
	}
	return string(last)
}

// TestSocketIOClient: the npm socket.io-client (pinned in
// test/interop/node) against the conformance server on polling only,
// WebSocket only and polling upgraded to WebSocket: events, binary, acks
// both ways, namespaces, an unknown namespace, rooms, server-side and
// client-side disconnects (sio-example.mjs).
func TestSocketIOClient(t *testing.T) {
	t.Parallel()
	srv, _ := startSocketIO(t, options{pingInterval: 300 * time.Millisecond, pingTimeout: 5 * time.Second})
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			t.Logf("%s", runNode(t, "sio-example.mjs", "http://"+srv.Addr().String(), mode))
		})
	}
}
