// Package nodetest runs the Node clients of test/interop/node from the
// Go tests of other packages: each script runs to its end and prints, as
// its last line, a JSON report with "ok".
package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Run runs the script of test/interop/node (named from the repository's
// root, given as root relative to the test's directory) with args, within
// timeout, and fails the test unless it exits cleanly with a last line
// {"ok":true,...}; it returns that line. Call it from the test's
// goroutine.
func Run(t *testing.T, root, script string, timeout time.Duration, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found on PATH: `make test-deps` (scripts/test-deps.sh) installs it")
	}
	path, _ := filepath.Abs(filepath.Join(root, "test/interop/node", script))
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
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
