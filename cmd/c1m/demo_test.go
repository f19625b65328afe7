package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium, which `make test` installs.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("chromium not found: `make test` installs it (scripts/test-deps.sh)")
	return ""
}

// TestDemoPage loads the demo page in headless Chromium, publishes through
// the API once the page is connected, waits for the page to show it, and
// saves a screenshot (its path is logged; C1M_ARTIFACTS picks the folder).
func TestDemoPage(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	page := "http://" + strings.TrimSuffix(strings.TrimPrefix(in.clients, "ws://"), "/ws") + "/"

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 700),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var state string
	if err := chromedp.Run(bctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(`#state.open`, chromedp.ByQuery),
		chromedp.Text(`#state`, &state, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	in.post(t, "/api/publish?topic=news", "hello from the API")

	var last, count string
	var shot []byte
	if err := chromedp.Run(bctx,
		chromedp.WaitVisible(`body[data-last="hello from the API"]`, chromedp.ByQuery),
		chromedp.Text(`#count`, &count, chromedp.ByQuery),
		chromedp.AttributeValue(`body`, "data-last", &last, nil, chromedp.ByQuery),
		chromedp.CaptureScreenshot(&shot),
	); err != nil {
		t.Fatalf("publication not shown: %v", err)
	}
	if last != "hello from the API" || count == "?" {
		t.Fatalf("page shows last=%q count=%q", last, count)
	}
	dir := os.Getenv("C1M_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "c1m-demo.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("state %q, connections %s, screenshot %s", state, count, path)
}
