package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
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

// browser starts headless Chromium for the test's lifetime.
func browser(t *testing.T) context.Context {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes can still write to the
	// profile after the browser exits, and t.TempDir fails the test when
	// its removal finds the folder not empty.
	profile, err := os.MkdirTemp("", "c1m-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 700),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// pageURL is the demo page of an instance.
func pageURL(in *instance) string {
	return "http://" + strings.TrimSuffix(strings.TrimPrefix(in.clients, "ws://"), "/ws") + "/"
}

// TestDemoPage loads the demo page in headless Chromium, publishes through
// the API once the page is connected, waits for the page to show it, and
// saves a screenshot (its path is logged; C1M_ARTIFACTS picks the folder).
// The page connects with c1m.js, served by c1m, and shows the transport:
// WebSocket here.
func TestDemoPage(t *testing.T) {
	t.Parallel()
	in := startC1M(t)
	page := pageURL(in)

	bctx := browser(t)

	var state, transport string
	if err := chromedp.Run(bctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(`#state.open`, chromedp.ByQuery),
		chromedp.Text(`#state`, &state, chromedp.ByQuery),
		chromedp.Text(`#transport`, &transport, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	if transport != "websocket" {
		t.Fatalf("page shows transport %q, want websocket", transport)
	}
	in.post(t, "/api/publish?topic=news", "hello from the API")

	var last, count string
	var shot []byte
	var counted bool
	if err := chromedp.Run(bctx,
		chromedp.WaitVisible(`body[data-last="hello from the API"]`, chromedp.ByQuery),
		// The page polls the count every second; it is the page's own session.
		chromedp.Poll(`document.getElementById("count").textContent === "1"`, &counted),
		chromedp.Text(`#count`, &count, chromedp.ByQuery),
		chromedp.AttributeValue(`body`, "data-last", &last, nil, chromedp.ByQuery),
		chromedp.CaptureScreenshot(&shot),
	); err != nil {
		t.Fatalf("publication not shown: %v", err)
	}
	if last != "hello from the API" || count != "1" {
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
	t.Logf("state %q over %s, connections %s, screenshot %s", state, transport, count, path)
}

// TestDemoFallback: with WebSocket and streaming off (-transports poll),
// the page falls back to long-polling by itself, says so, and still shows
// what is published.
func TestDemoFallback(t *testing.T) {
	t.Parallel()
	in := startC1M(t, "-transports", "poll")
	// A topic with history but no publication yet is forgotten between two
	// polls (no session holds it then), and a publication made just then
	// reaches the next poll as a reset instead; one publication first keeps
	// the topic for the history TTL.
	in.post(t, "/api/publish?topic=news", "before the page")
	bctx := browser(t)
	var transport string
	if err := chromedp.Run(bctx,
		chromedp.Navigate(pageURL(in)),
		chromedp.WaitVisible(`#state.open`, chromedp.ByQuery),
		chromedp.Text(`#transport`, &transport, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	if transport != "poll" {
		t.Fatalf("page shows transport %q, want poll", transport)
	}
	in.post(t, "/api/publish?topic=news", "hello over polling")
	if err := chromedp.Run(bctx,
		chromedp.WaitVisible(`body[data-last="hello over polling"]`, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("publication not shown: %v", err)
	}
}

// TestDemoPublish: with -demo-publish the page's Publish button reaches
// another subscriber of the topic; without it the button is disabled and
// the server refuses the command from any client.
func TestDemoPublish(t *testing.T) {
	t.Parallel()
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		in := startC1M(t, "-demo-publish")
		other := in.dial(t, "?topic=news")
		bctx := browser(t)
		if err := chromedp.Run(bctx,
			chromedp.Navigate(pageURL(in)),
			chromedp.WaitVisible(`#state.open`, chromedp.ByQuery),
			chromedp.SetValue(`#pdata`, "typed on the page", chromedp.ByQuery),
			chromedp.Click(`#pub`, chromedp.ByQuery),
		); err != nil {
			t.Fatalf("page: %v", err)
		}
		// The dial's deadline ran while the browser started.
		_ = other.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, p, err := other.ReadMessage(); err != nil || string(p) != "typed on the page" {
			t.Fatalf("subscriber got %q %v", p, err)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		in := startC1M(t)
		bctx := browser(t)
		var disabled bool
		if err := chromedp.Run(bctx,
			chromedp.Navigate(pageURL(in)),
			chromedp.WaitVisible(`#pub[disabled]`, chromedp.ByQuery),
			chromedp.Evaluate(`document.getElementById("pub").disabled`, &disabled),
		); err != nil || !disabled {
			t.Fatalf("publish button not disabled: %v", err)
		}
		c := in.dial(t, "?topic=news")
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":"publish","topic":"news","data":"x","id":7}`)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != `{"op":"error","id":7,"error":"publishing is not allowed"}` {
			t.Fatalf("publish command without -demo-publish: %q %v", p, err)
		}
	})
}

// TestDemoToken: with -auth required, the demo page connects with the
// token in its address (c1m.js sends it), shows what is published to a
// private topic the token allows, and hands a typed token over with
// refresh (another user's is refused).
func TestDemoToken(t *testing.T) {
	t.Parallel()
	const secret = "demo-test-secret-0123456789abcdef"
	in := startC1M(t, "-auth", "required", "-jwt-secret", secret)
	sign := func(sub string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "topics": []string{"news", "private:demo"},
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bctx := browser(t)
	var note string
	if err := chromedp.Run(bctx,
		chromedp.Navigate(pageURL(in)+"?token="+sign("ann")),
		chromedp.SetValue(`#topics`, "private:demo", chromedp.ByQuery),
		chromedp.Click(`#sub`, chromedp.ByQuery),
		chromedp.WaitVisible(`#state.open`, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("page did not connect with its token: %v", err)
	}
	// The page's subscribe command may still be on its way when the state
	// shows open: publish until the page shows one (a loaded machine).
	shown := false
	for try := 0; try < 30 && !shown; try++ {
		in.post(t, "/api/publish?topic="+url.QueryEscape("private:demo"), "for ann")
		wctx, cancel := context.WithTimeout(bctx, 2*time.Second)
		shown = chromedp.Run(wctx, chromedp.WaitVisible(`body[data-last="for ann"]`, chromedp.ByQuery)) == nil
		cancel()
	}
	if !shown {
		t.Fatal("the page never showed a publication to its private topic")
	}
	if err := chromedp.Run(bctx,
		chromedp.SetValue(`#token`, sign("ann"), chromedp.ByQuery),
		chromedp.Click(`#refresh`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("log").textContent.includes("token handed over")`, nil),
		chromedp.SetValue(`#token`, sign("bob"), chromedp.ByQuery),
		chromedp.Click(`#refresh`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("log").textContent.includes("token of another user")`, nil),
		chromedp.Text(`#log`, &note, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("publication or refresh not shown: %v", err)
	}
	if !strings.Contains(note, "token handed over") {
		t.Fatalf("log %q", note)
	}
}
