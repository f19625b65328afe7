package nodetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Conversation is a Node script of test/interop/node (harness.mjs) that
// talks with the test: one JSON object per line each way.
type Conversation struct {
	in     io.WriteCloser
	lines  chan map[string]any
	stderr lockedBuffer // written by exec's copying goroutine while the test reads it
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader at
// once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Converse starts script (of test/interop/node, the repository's root
// given as root relative to the test's directory) with args; it is killed
// at the end of the test. Call its methods from the test's goroutine.
func Converse(t *testing.T, root, script string, args ...string) *Conversation {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found on PATH: `make test-deps` (scripts/test-deps.sh) installs it")
	}
	path, _ := filepath.Abs(filepath.Join(root, "test/interop/node", script))
	cmd := exec.Command(node, append([]string{path}, args...)...)
	c := &Conversation{lines: make(chan map[string]any, 16)}
	cmd.Stderr = &c.stderr
	c.in, _ = cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				c.lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// Until waits for the script's event ev and returns it; a report
// ({"ev":"done"}) that is not ok, or the script's end, fails the test.
func (c *Conversation) Until(t *testing.T, ev string) map[string]any {
	t.Helper()
	deadline := time.After(90 * time.Second) // a hang guard; the script's own is 60 s
	for {
		select {
		case m, ok := <-c.lines:
			switch {
			case !ok:
				t.Fatalf("node script ended before %s; stderr:\n%.3000s", ev, c.stderr.String())
			case m["ev"] == "done" && m["ok"] != true:
				t.Fatalf("node script failed: %v; stderr:\n%.3000s", m, c.stderr.String())
			case m["ev"] == ev:
				return m
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s from the node script", ev)
		}
	}
}

// Say sends v to the script as one line.
func (c *Conversation) Say(t *testing.T, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}
