package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// firefoxBin is Debian's Firefox ESR (package firefox-esr).
const firefoxBin = "firefox-esr"

// firefoxScript drives Firefox; it lives beside the pinned npm packages.
const firefoxScript = "firefox.mjs"

// firefoxReserve is kept from the script's time for closing Firefox and
// reporting: the script closes the browser within 3 s of giving up.
const firefoxReserve = 5 * time.Second

// firefoxPidLine starts the script's first stderr line.
const firefoxPidLine = "c1m-firefox-pid "

// nodeDir returns test/interop/node of this module, where the npm packages
// are installed, found from the working directory (a test's is its
// package's folder).
func nodeDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(mod, []byte("module github.com/c1mhq/c1m\n")) {
			return filepath.Join(dir, "test", "interop", "node"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the github.com/c1mhq/c1m module")
		}
		dir = parent
	}
}

func firefoxAvailable() error {
	for _, bin := range []string{firefoxBin, "node"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found on PATH: %s", bin, installHint)
		}
	}
	dir, err := nodeDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "puppeteer-core", "package.json")); err != nil {
		return fmt.Errorf("puppeteer-core is not installed in %s: %s", dir, installHint)
	}
	return nil
}

// firefoxReport is what firefox.mjs prints.
type firefoxReport struct {
	Browser  string   `json:"browser"`
	JSON     *string  `json:"json"`
	Console  []string `json:"console"`
	Error    string   `json:"error"`
	TimedOut bool     `json:"timedOut"`
}

// runFirefox runs firefox.mjs in its own process group. Cancelling ctx
// sends SIGTERM to the group, on which the script closes Firefox and
// reports; if it has not exited firefoxReserve later, it is killed, and so
// is Firefox's group.
func runFirefox(ctx context.Context, url string) (o outcome, err error) {
	bin, err := exec.LookPath(firefoxBin)
	if err != nil {
		return o, err
	}
	dir, err := nodeDir()
	if err != nil {
		return o, err
	}
	// The script gives up on its own before ctx ends, so that it can
	// still say where it was stuck and what the console said.
	ms := budget(ctx, firefoxReserve).Milliseconds()
	cmd := exec.CommandContext(ctx, "node", firefoxScript, bin, url, strconv.FormatInt(ms, 10))
	cmd.Dir = dir
	// Belt and braces: puppeteer-core downloads nothing, and this says so.
	cmd.Env = append(os.Environ(), "PUPPETEER_SKIP_DOWNLOAD=1")
	// SIGTERM if the test binary dies: the script then closes Firefox.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = firefoxReserve
	var stdout, stderr bytes.Buffer // read only after Run returns
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if cmd.Process != nil {
		killGroup(cmd.Process.Pid)
	}
	if ps := cmd.ProcessState; ps == nil || !ps.Exited() {
		// The script did not exit by itself (it was killed), so puppeteer
		// had no chance to kill Firefox's group: do it here.
		killGroup(firefoxPid(stderr.Bytes()))
	}

	var r firefoxReport
	if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
		if ctx.Err() != nil {
			return o, noResult(ctx, "running "+firefoxScript)
		}
		return o, fmt.Errorf("%s: %v, report %.200q: %v; stderr:\n%s", firefoxScript, runErr, stdout.Bytes(), jerr, stderr.Bytes())
	}
	o.browser, o.console = r.Browser, r.Console
	switch {
	case r.Error != "" && (r.TimedOut || ctx.Err() != nil):
		return o, fmt.Errorf("%w: %s", ErrNoResult, r.Error)
	case r.Error != "":
		return o, errors.New(r.Error)
	case runErr != nil:
		return o, fmt.Errorf("%s: %v; stderr:\n%s", firefoxScript, runErr, stderr.Bytes())
	}
	o.result, err = verdict(r.JSON)
	return o, err
}

// firefoxPid finds Firefox's process id in the script's stderr; 0 if the
// script did not get as far as launching it.
func firefoxPid(stderr []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), firefoxPidLine); ok {
			pid, _ := strconv.Atoi(s)
			return pid
		}
	}
	return 0
}
