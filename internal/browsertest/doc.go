// Package browsertest loads a page in a real browser and returns the page's
// own verdict, for tests that check c1m's transports from the browsers that
// people use: Chromium (Blink), Firefox (Gecko) and WebKit, Safari's engine.
//
// The contract with a page is one global: when the page is done, it sets
// window.c1mResult to a JSON-serialisable value, for example
// {ok: true, got: 200, detail: "..."}. Run opens the page in a fresh
// headless browser, waits (bounded by its context) until the value is set,
// returns it as JSON and closes the browser:
//
//	for _, e := range browsertest.All() {
//		t.Run(e.String(), func(t *testing.T) {
//			t.Parallel()
//			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
//			defer cancel()
//			got, err := browsertest.Run(ctx, t, e, pageURL)
//			...
//		})
//	}
//
// How each engine is driven:
//   - Chromium: Debian's chromium, headless, over the DevTools protocol
//     (chromedp);
//   - Firefox: Debian's firefox-esr, headless, over WebDriver BiDi, by
//     puppeteer-core from test/interop/node (test/interop/node/firefox.mjs);
//   - WebKit: Debian's webkit2gtk-driver (WebKitWebDriver, W3C WebDriver
//     over HTTP) running MiniBrowser on a private Xvfb display.
//
// The console lines that Run logs are the page's console errors and
// warnings and its uncaught exceptions. Chromium and Firefox report them
// from the start; WebKit's driver has no console events, so the harness
// hooks the page's console once the page has loaded, and sees only what
// comes after.
//
// scripts/test-deps.sh installs all three. An engine that is missing skips
// the test that asked for it, with what to install; under CI=true it fails
// the test instead, because CI installs every engine.
//
// Every run starts its own browser (and, for WebKit, its own X display) in
// its own process group, and kills that group before Run returns, also when
// the context ends first: no browser process outlives Run.
//
// Concurrency: Run, Available, Require and Engines are safe for concurrent
// use, by parallel tests in particular.
package browsertest
