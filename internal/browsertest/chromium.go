package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumBin is Debian's Chromium (package chromium).
const chromiumBin = "chromium"

func chromiumAvailable() error {
	if _, err := exec.LookPath(chromiumBin); err != nil {
		return fmt.Errorf("%s not found on PATH: %s", chromiumBin, installHint)
	}
	return nil
}

// runChromium drives headless Chromium over the DevTools protocol. The
// console lines come from the Runtime domain (console calls, uncaught
// exceptions) and the Log domain (the browser's own messages, such as a
// WebSocket that failed to connect).
func runChromium(ctx context.Context, url string) (o outcome, err error) {
	bin, err := exec.LookPath(chromiumBin)
	if err != nil {
		return o, err
	}
	// Not removed by chromedp: its helpers may still write to the profile
	// after the browser exits, so it goes once the whole group is dead.
	profile, err := os.MkdirTemp("", "c1m-chromium-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(profile)

	var cmd *exec.Cmd // read after the allocator's cancel, which waits for it
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		// CI runs as root, where the sandbox refuses to start.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		// Nothing but the page's own traffic: no QUIC, proxy or updates.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			// Its own group, so that the renderers and the zygote die with
			// it; and dead with the test binary, as chromedp sets by default.
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd = c
		}),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer func() {
		acancel() // kills the browser and waits for it
		if cmd != nil && cmd.Process != nil {
			killGroup(cmd.Process.Pid)
		}
	}()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var cons console
	defer func() { o.console = cons.all() }()
	chromedp.ListenTarget(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				cons.add(string(ev.Type) + ": " + consoleArgs(ev.Args))
			}
		case *runtime.EventExceptionThrown:
			cons.add("uncaught: " + ev.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			// Chromium asks every origin for /favicon.ico on its own; a
			// test server's 404 for it says nothing about the page.
			if strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				return
			}
			if ev.Entry.Level == cdplog.LevelError || ev.Entry.Level == cdplog.LevelWarning {
				cons.add(fmt.Sprintf("%s (%s): %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text))
			}
		}
	})

	phase := "starting chromium"
	if err := chromedp.Run(bctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, product, _, _, _, err := browser.GetVersion().Do(ctx)
		o.browser = product
		return err
	})); err != nil {
		return o, chromiumErr(ctx, phase, err)
	}
	phase = "loading the page"
	if err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		return o, chromiumErr(ctx, phase, err)
	}
	phase = "waiting for window.c1mResult"
	var s *string
	if err := chromedp.Run(bctx,
		// No poll timeout of its own: ctx bounds it.
		chromedp.Poll(`window.c1mResult !== undefined`, nil,
			chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(0)),
		chromedp.Evaluate(`JSON.stringify(window.c1mResult) ?? null`, &s),
	); err != nil {
		return o, chromiumErr(ctx, phase, err)
	}
	o.result, err = verdict(s)
	return o, err
}

// chromiumErr says what failed; a context that ended is the page's fault
// (no verdict in time), anything else the browser's.
func chromiumErr(ctx context.Context, phase string, err error) error {
	if ctx.Err() != nil {
		return noResult(ctx, phase)
	}
	return fmt.Errorf("%s: %w", phase, err)
}

// consoleArgs renders a console call's arguments as the console shows
// them: strings bare, other primitives as JSON, objects by description.
func consoleArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case len(a.Value) > 0:
			if json.Unmarshal(a.Value, &s) != nil {
				s = string(a.Value)
			}
		case a.Description != "":
			s = a.Description
		case a.UnserializableValue != "":
			s = a.UnserializableValue.String()
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
