package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// clientTimeout bounds one client script; the scripts give up after 60 s
// on their own and say where they were stuck.
const clientTimeout = 2 * time.Minute

// plan is what every client script runs, once without and once with
// permessage-deflate. The sizes sit on the frame length boundaries: 125 is
// the largest 7-bit length, 126..65535 take a 16-bit length, 65536 and up a
// 64-bit one; 1 MiB crosses many reads and deflate blocks.
type plan struct {
	Sizes     []int `json:"sizes"`
	Pipelined int   `json:"pipelined"`
	CloseCode int   `json:"closeCode"`
}

var defaultPlan = plan{
	Sizes:     []int{0, 1, 125, 126, 65535, 65536, 1 << 20},
	Pipelined: 16,
	CloseCode: 4001, // a private-use code, so an echo cannot be a default
}

// cases lists, in order, the case names a client reports for p; extra are
// the client's own cases between "fragmented/binary" and "ping".
func (p plan) cases(extra ...string) []string {
	var c []string
	for _, n := range p.Sizes {
		c = append(c, fmt.Sprintf("text/%d", n), fmt.Sprintf("binary/%d", n))
	}
	c = append(c, fmt.Sprintf("pipelined/%d", p.Pipelined), "fragmented/text", "fragmented/binary")
	c = append(c, extra...)
	return append(c, "ping", fmt.Sprintf("close/%d", p.CloseCode))
}

// report is what a client script prints: one JSON object on stdout.
type report struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Client string `json:"client"`
	Runs   []struct {
		Deflate    bool     `json:"deflate"`
		Extensions string   `json:"extensions"`
		Cases      []string `json:"cases"`
		CloseCode  int      `json:"closeCode"`
	} `json:"runs"`
}

// runClient runs a client script with the URL and plan, and checks its
// report against the plan: every case verified in order, deflate refused
// when not offered and negotiated when offered, the close code echoed.
func runClient(t *testing.T, p plan, wantCases []string, name string, args ...string) {
	t.Helper()
	planJSON, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	url := startEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append(args, url, string(planJSON))...)
	cmd.WaitDelay = 5 * time.Second // if a grandchild holds the pipes
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || runErr != nil || !r.OK {
		t.Fatalf("%s %s: %v\nerror: %s\nstdout: %.2000s\nstderr: %.2000s", name, args[0], runErr, r.Error, stdout.String(), stderr.String())
	}
	if len(r.Runs) != 2 || r.Runs[0].Deflate || !r.Runs[1].Deflate {
		t.Fatalf("want a run without deflate, then one with it; got %+v", r.Runs)
	}
	for _, run := range r.Runs {
		if !slices.Equal(run.Cases, wantCases) {
			t.Errorf("deflate=%v: verified cases\n%q\nwant\n%q", run.Deflate, run.Cases, wantCases)
		}
		if got := strings.Contains(run.Extensions, "permessage-deflate"); got != run.Deflate {
			t.Errorf("deflate=%v: negotiated extensions %q", run.Deflate, run.Extensions)
		}
		if run.CloseCode != p.CloseCode {
			t.Errorf("deflate=%v: close code %d, want %d", run.Deflate, run.CloseCode, p.CloseCode)
		}
	}
	t.Logf("%s: %d cases x 2 runs; extensions with deflate: %q", r.Client, len(wantCases), r.Runs[1].Extensions)
}

func TestNodeWS(t *testing.T) {
	t.Parallel()
	node := need(t, "node")
	if _, err := os.Stat("node/node_modules/ws/package.json"); err != nil {
		t.Fatal("node/node_modules/ws missing: `make test-deps` (scripts/test-deps.sh) runs npm ci")
	}
	runClient(t, defaultPlan, defaultPlan.cases("fragmented/ping-inside"), node, "node/client.mjs")
}

func TestPythonWebsockets(t *testing.T) {
	t.Parallel()
	// Debian's interpreter, which sees python3-websockets: the python3 first
	// on PATH may be another one (pyenv) without Debian's modules.
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s missing: `make test-deps` (scripts/test-deps.sh) installs python3-websockets", py)
	}
	runClient(t, defaultPlan, defaultPlan.cases(), py, "python/client.py")
}
