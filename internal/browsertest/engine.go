package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engine is a browser engine that Run can drive.
type Engine string

// The engines, by the name of the engine's family as people know it.
const (
	Chromium Engine = "chromium" // Blink, as in Chrome and Edge
	Firefox  Engine = "firefox"  // Gecko
	WebKit   Engine = "webkit"   // as in Safari
)

// All returns every engine the harness drives, in a fixed order, whether
// or not it is installed here: a test that ranges over it gets one subtest
// per engine, which Run skips (or fails, in CI) when the engine is missing.
func All() []Engine { return []Engine{Chromium, Firefox, WebKit} }

// String returns the engine's name, fit for a subtest name.
func (e Engine) String() string { return string(e) }

// DefaultTimeout bounds a run whose context has no deadline. A cold start
// of any of the three browsers on a loaded 2-core machine takes a few
// seconds; a page's verdict should take a few more at most.
const DefaultTimeout = time.Minute

// pollInterval is how often a page is asked whether it has set
// window.c1mResult: a verdict is seen at most this late. For WebKit each ask
// is one HTTP round trip to the driver, a fraction of a millisecond.
const pollInterval = 50 * time.Millisecond

// maxConsole caps the console lines kept from one run; a page that logs in
// a loop should not flood the test log.
const maxConsole = 200

// installHint ends every "not installed" message.
const installHint = "`make test-deps` (scripts/test-deps.sh) installs it"

// available holds one check per engine, each run once per test binary.
var available = map[Engine]func() error{
	Chromium: sync.OnceValue(chromiumAvailable),
	Firefox:  sync.OnceValue(firefoxAvailable),
	WebKit:   sync.OnceValue(webkitAvailable),
}

// Available reports whether e can run on this machine; the error says what
// is missing and how to install it. Safe for concurrent use.
func Available(e Engine) error {
	check, ok := available[e]
	if !ok {
		return fmt.Errorf("browsertest: unknown engine %q", string(e))
	}
	return check()
}

// inCI: CI sets CI=true, and there a missing engine is a missing install
// step, not a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// Require skips t, saying why, when e cannot run here; under CI=true it
// fails t instead. Safe for concurrent use.
func Require(t testing.TB, e Engine) {
	t.Helper()
	if err := Available(e); err != nil {
		if inCI() {
			t.Fatalf("%s: %v (CI=true: CI must install every engine)", e, err)
		}
		t.Skipf("%s not available: %v", e, err)
	}
}

// Engines returns the engines that can run here. For each one that cannot,
// it logs why, or under CI=true fails t (and goes on with the others); with
// none at all outside CI, it skips t. Safe for concurrent use.
func Engines(t testing.TB) []Engine {
	t.Helper()
	var out []Engine
	var why []string
	for _, e := range All() {
		err := Available(e)
		switch {
		case err == nil:
			out = append(out, e)
		case inCI():
			t.Errorf("%s: %v (CI=true: CI must install every engine)", e, err)
		default:
			t.Logf("browsertest: leaving out %s: %v", e, err)
			why = append(why, fmt.Sprintf("%s: %v", e, err))
		}
	}
	if len(out) == 0 && !inCI() {
		t.Skipf("no browser engine available: %s", strings.Join(why, "; "))
	}
	return out
}

// Run opens url in a fresh headless instance of e, waits until the page
// sets window.c1mResult and returns that value as JSON. The wait ends with
// ctx (DefaultTimeout when ctx has no deadline); the error then wraps
// ErrNoResult. Run skips or fails t as Require does when e is missing, logs
// the browser's version and the page's console errors and warnings (and
// uncaught exceptions) to t, and has stopped every process it started when
// it returns. Safe for concurrent use: each call has its own browser.
func Run(ctx context.Context, t testing.TB, e Engine, url string) (json.RawMessage, error) {
	t.Helper()
	Require(t, e)
	start := time.Now()
	o, err := run(ctx, e, url)
	took := time.Since(start).Round(time.Millisecond)
	name := e.String()
	if o.browser != "" {
		name += " (" + o.browser + ")"
	}
	for _, line := range o.console {
		t.Logf("%s console: %s", e, line)
	}
	if err != nil {
		if n := len(o.console); n > 0 {
			err = fmt.Errorf("%w (the page's %d console lines are logged above)", err, n)
		}
		return nil, fmt.Errorf("%s after %v: %w", name, took, err)
	}
	t.Logf("%s: verdict after %v", name, took)
	return o.result, nil
}

// run is Run without t: it drives the engine and reports what it saw.
func run(ctx context.Context, e Engine, url string) (outcome, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	switch e {
	case Chromium:
		return runChromium(ctx, url)
	case Firefox:
		return runFirefox(ctx, url)
	case WebKit:
		return runWebKit(ctx, url)
	}
	return outcome{}, fmt.Errorf("browsertest: unknown engine %q", string(e))
}

// outcome is what one run found out, also when it failed.
type outcome struct {
	browser string          // name and version, as the browser reports them
	result  json.RawMessage // window.c1mResult
	console []string        // console errors and warnings, uncaught exceptions
}

// verdict checks what JSON.stringify(window.c1mResult) gave: nil when it
// gave undefined.
func verdict(s *string) (json.RawMessage, error) {
	if s == nil || !json.Valid([]byte(*s)) {
		return nil, ErrNotJSON
	}
	return json.RawMessage(*s), nil
}

// noResult is the error for a run whose context ended first; phase says
// what the run was doing then.
func noResult(ctx context.Context, phase string) error {
	return fmt.Errorf("%w (%s): %v", ErrNoResult, phase, context.Cause(ctx))
}

// console collects a page's console lines, up to maxConsole. Safe for
// concurrent use: CDP events arrive on chromedp's goroutine.
type console struct {
	mu      sync.Mutex // guards the fields below
	lines   []string
	dropped int
}

func (c *console) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) < maxConsole {
		c.lines = append(c.lines, line)
	} else {
		c.dropped++
	}
}

// all returns the lines kept, and a last one counting those dropped.
func (c *console) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.lines...)
	if c.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d more console lines dropped)", c.dropped))
	}
	return out
}

// budget is the time left before ctx's deadline less reserve (kept for
// closing the browser), but at least minBudget.
func budget(ctx context.Context, reserve time.Duration) time.Duration {
	const minBudget = time.Second
	d := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return max(d-reserve, minBudget)
}

// killGroup kills every process left in the process group led by pid; a
// group already empty is not an error.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
