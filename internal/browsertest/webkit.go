package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// webkitDriverBin is WebKitGTK's WebDriver (package webkit2gtk-driver): W3C
// WebDriver over HTTP, driving MiniBrowser, WebKitGTK's test browser.
const webkitDriverBin = "WebKitWebDriver"

// miniBrowserGlob finds MiniBrowser, which libwebkit2gtk ships for the
// driver (Debian 12: /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser).
const miniBrowserGlob = "/usr/lib/*/webkit2gtk-4.*/MiniBrowser"

// driverStarts is how many free ports a run tries: the port is picked
// before the driver binds it, and another process may take it between.
const driverStarts = 3

// maxResponse bounds a WebDriver response; a verdict is small.
const maxResponse = 16 << 20

func webkitAvailable() error {
	for _, bin := range []string{webkitDriverBin, xvfbBin} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found on PATH: %s", bin, installHint)
		}
	}
	if _, err := miniBrowser(); err != nil {
		return err
	}
	return nil
}

func miniBrowser() (string, error) {
	m, _ := filepath.Glob(miniBrowserGlob)
	if len(m) == 0 {
		return "", fmt.Errorf("MiniBrowser not found at %s: %s", miniBrowserGlob, installHint)
	}
	return m[len(m)-1], nil // the newest API version
}

// webkitPoll asks the page for its verdict. On its first call in a page it
// also hooks the console and the error events, so that the console lines
// of WebKit runs start once the page has loaded: WebDriver classic has no
// console events, and MiniBrowser's own console output does not apply to
// the views it opens for automation.
const webkitPoll = `
const w = window;
if (!w.__c1mConsole) {
  const lines = (w.__c1mConsole = []);
  const text = (a) => {
    if (typeof a === "string") return a;
    if (a instanceof Error) return String(a);
    try { return JSON.stringify(a); } catch { return String(a); }
  };
  for (const [method, level] of [["error", "error"], ["warn", "warn"]]) {
    const orig = console[method];
    console[method] = function (...args) {
      lines.push(level + ": " + args.map(text).join(" "));
      return orig.apply(this, args);
    };
  }
  w.addEventListener("error", (e) => lines.push("uncaught: " + (e.error ? String(e.error) : e.message)));
  w.addEventListener("unhandledrejection", (e) => lines.push("unhandled rejection: " + text(e.reason)));
}
const console_ = w.__c1mConsole.splice(0);
if (w.c1mResult === undefined) return { done: false, console: console_ };
return { done: true, json: JSON.stringify(w.c1mResult) ?? null, console: console_ };
`

// runWebKit starts Xvfb and WebKitWebDriver, opens a session (which
// starts MiniBrowser), loads url, polls for the verdict, and tears all of
// it down in reverse order.
func runWebKit(ctx context.Context, url string) (o outcome, err error) {
	mini, err := miniBrowser()
	if err != nil {
		return o, err
	}
	x, err := startXvfb(ctx)
	if err != nil {
		return o, err
	}
	defer x.stop()
	d, err := startDriver(ctx, x.display)
	if err != nil {
		return o, err
	}
	defer d.stop()

	ms := budget(ctx, stopWait).Milliseconds()
	var sess struct {
		SessionID    string `json:"sessionId"`
		Capabilities struct {
			BrowserName    string `json:"browserName"`
			BrowserVersion string `json:"browserVersion"`
		} `json:"capabilities"`
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"webkitgtk:browserOptions": map[string]any{"binary": mini, "args": []string{"--automation"}},
		"pageLoadStrategy":         "normal",
		"timeouts":                 map[string]any{"pageLoad": ms, "script": ms},
	}}}
	phase := "starting MiniBrowser"
	if err := d.call(ctx, http.MethodPost, "/session", caps, &sess); err != nil {
		return o, webkitErr(ctx, phase, err, d)
	}
	o.browser = "WebKitGTK " + sess.Capabilities.BrowserName + "/" + sess.Capabilities.BrowserVersion
	path := "/session/" + sess.SessionID
	defer func() {
		// Closes MiniBrowser; also when ctx has ended.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		_ = d.call(dctx, http.MethodDelete, path, nil, nil)
	}()

	var cons console
	defer func() { o.console = cons.all() }()
	phase = "loading the page"
	if err := d.call(ctx, http.MethodPost, path+"/url", map[string]string{"url": url}, nil); err != nil {
		return o, webkitErr(ctx, phase, err, d)
	}
	phase = "waiting for window.c1mResult"
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var r struct {
			Done    bool     `json:"done"`
			JSON    *string  `json:"json"`
			Console []string `json:"console"`
		}
		err := d.call(ctx, http.MethodPost, path+"/execute/sync", map[string]any{"script": webkitPoll, "args": []any{}}, &r)
		if err != nil {
			return o, webkitErr(ctx, phase, err, d)
		}
		for _, line := range r.Console {
			cons.add(line)
		}
		if r.Done {
			o.result, err = verdict(r.JSON)
			return o, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return o, noResult(ctx, phase)
		}
	}
}

// webkitErr says what failed; a context that ended is the page's fault,
// anything else the driver's, with its output (MiniBrowser's included).
func webkitErr(ctx context.Context, phase string, err error, d *webDriver) error {
	if ctx.Err() != nil {
		return noResult(ctx, phase)
	}
	return fmt.Errorf("%s: %w%s", phase, err, d.output())
}

// webDriver is one WebKitWebDriver process, listening on loopback, and its
// process group (it, MiniBrowser and WebKit's helper processes).
type webDriver struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	client *http.Client
	exited chan struct{} // closed when the driver has exited
	out    *headWriter   // its output and MiniBrowser's, read only after exited
}

// startDriver starts WebKitWebDriver on display and returns once it
// answers /status as ready.
func startDriver(ctx context.Context, display string) (*webDriver, error) {
	var lastErr error
	for range driverStarts {
		d, err := tryDriver(ctx, display)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return nil, noResult(ctx, "starting "+webkitDriverBin)
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryDriver(ctx context.Context, display string) (*webDriver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &webDriver{
		base:   "http://127.0.0.1:" + strconv.Itoa(port),
		client: &http.Client{Transport: &http.Transport{}},
		exited: make(chan struct{}),
		out:    new(headWriter),
	}
	d.cmd = exec.Command(webkitDriverBin, "--host=127.0.0.1", "--port="+strconv.Itoa(port))
	d.cmd.Env = append(os.Environ(), "DISPLAY="+display)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// MiniBrowser's helpers inherit the output pipe; Wait does not wait
	// for them longer than this once the group is killed.
	d.cmd.WaitDelay = time.Second
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()

	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := d.call(ctx, http.MethodGet, "/status", nil, &st); err == nil && st.Ready {
			return d, nil
		}
		select {
		case <-tick.C:
		case <-d.exited:
			return nil, fmt.Errorf("%s exited on start (port %d): %s", webkitDriverBin, port, d.out.bytes())
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		}
	}
}

// stop kills the driver's group (MiniBrowser has normally gone with its
// session) and waits for the driver.
func (d *webDriver) stop() {
	killGroup(d.cmd.Process.Pid)
	<-d.exited
	d.client.CloseIdleConnections()
}

// output is the driver's output so far, for an error message; empty while
// the driver runs (it is read only once the driver has exited).
func (d *webDriver) output() string {
	select {
	case <-d.exited:
		return fmt.Sprintf("; %s output:\n%s", webkitDriverBin, d.out.bytes())
	default:
		return ""
	}
}

// call sends one WebDriver command and decodes the response's "value" into
// out (if not nil). A WebDriver error becomes a Go error with its name and
// message.
func (d *webDriver) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: %s: %.200q", method, path, resp.Status, raw)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %s: %s: %s", method, path, resp.Status, e.Error, e.Message)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP listener")
	}
	return addr.Port, nil
}
