package interop

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/browsertest"
	"github.com/c1mhq/c1m/server"
)

//go:embed browser/transports.html
var transportsPage []byte

//go:embed node/publications.mjs
var publicationsModule []byte

// browserTransports are the transports browser/transports.html runs, in
// its order, each on the topic of the same name.
var browserTransports = []string{"websocket", "sse", "stream", "multipart", "iframe", "poll", "jsonp"}

// sseDrop is what the page signals after its EventSource got the first
// httpPublications: the test then ends the stream and publishes
// sseMissed more, which the browser must get when it reconnects.
const (
	sseDrop   = "sse-drop"
	sseMissed = 100
)

// unreadable are the transports an engine does not let a page's scripts
// read, and why. The page still runs them: should the engine change, the
// log says so.
var unreadable = map[browsertest.Engine]map[string]string{
	// WebKitGTK's network layer takes multipart/x-mixed-replace apart for
	// documents and images only: XHR and fetch fail with "Load failed"
	// once the head arrives, even on a complete fixed-length multipart
	// response, so there is no raw body to split. Chromium and Firefox
	// hand scripts the raw body.
	browsertest.WebKit: {"multipart": "WebKit fails XHR and fetch of multipart/x-mixed-replace (\"Load failed\")"},
}

// browserPollBytes bounds a poll reply's messages (PollMaxBytes) for the
// browsers: about twenty publications, so that the 200 take ten polls or
// more, each continuing from the last one's cursor, whatever the timing.
const browserPollBytes = 2 << 10

// browserTransportsTimeout bounds one engine's run: start, seven
// transports of a second or less each, verdict, close. A cold Firefox
// start alone can take five seconds on a loaded 2-core machine, and the
// page gives each transport up to 15 s before it reports it stuck.
const browserTransportsTimeout = 2 * time.Minute

// TestBrowsersTransports loads browser/transports.html in every browser
// engine (internal/browsertest), served by the c1m server it tests: the
// page subscribes with each transport in turn, using the browser's own
// WebSocket, EventSource, fetch, iframe and script tags, and says so by
// fetching /ready/NAME; the test then publishes httpPublications to that
// transport's topic, which the page must receive in order, each once.
// EventSource is then dropped by the server and must resume by itself,
// with Last-Event-ID, and get the sseMissed published meanwhile.
//
// Every topic has one publication before the page comes, which no
// transport may deliver: a new subscriber starts after it. It also keeps
// the poll topics numbered between polls (see TestNodeFetchPollEmptyTopic).
func TestBrowsersTransports(t *testing.T) {
	t.Parallel()
	for _, e := range browsertest.All() {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			browsertest.Require(t, e) // before a server starts for nothing
			signals := append(slices.Clone(browserTransports), sseDrop)
			ready := make(chan string, len(signals))
			pages := map[string]server.Page{
				"/transports.html":  {ContentType: "text/html; charset=utf-8", Body: transportsPage},
				"/publications.mjs": {ContentType: "text/javascript; charset=utf-8", Body: publicationsModule},
			}
			for _, name := range signals {
				pages["/ready/"+name] = server.Page{ContentType: "text/plain", Render: func() []byte {
					select { // on the event loop: never block
					case ready <- name:
					default:
					}
					return []byte("ok\n")
				}}
			}
			srv, base := startPush(t, server.Config{Pages: pages, PollMaxBytes: browserPollBytes})
			for _, name := range browserTransports {
				publish(t, srv, name, 1, 1)
			}
			const first = 2

			// Publish to each topic once the page says it is subscribed.
			ctx := t.Context() // done before cleanups run
			var publisher sync.WaitGroup
			t.Cleanup(publisher.Wait)
			publisher.Go(func() {
				for {
					select {
					case name := <-ready:
						from, to := first, first+httpPublications-1
						if name == sseDrop {
							if n := dropSessions(t, srv); n != 1 {
								t.Errorf("%s: dropped %d sessions, want the EventSource's one", name, n)
								return
							}
							name, from, to = "sse", to+1, to+sseMissed
						}
						for i := from; i <= to; i++ {
							if _, err := srv.Hub().Publish(name, publication(i)); err != nil {
								t.Errorf("publish %d to %s: %v", i, name, err)
								return
							}
						}
						// The browser waits the stream's retry: (2 s)
						// before it reconnects; publishing takes
						// milliseconds.
						if from > first && openSessions(t, srv) != 0 {
							t.Errorf("the EventSource reconnected before the test published the %d it must resume", sseMissed)
						}
					case <-ctx.Done():
						return
					}
				}
			})

			runCtx, cancel := context.WithTimeout(ctx, browserTransportsTimeout)
			defer cancel()
			page := base + "/transports.html?" + url.Values{
				"n": {strconv.Itoa(httpPublications)}, "first": {strconv.Itoa(first)}, "resume": {strconv.Itoa(sseMissed)},
			}.Encode()
			raw, err := browsertest.Run(runCtx, t, e, page)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				OK         bool   `json:"ok"`
				Error      string `json:"error"`
				UserAgent  string `json:"userAgent"`
				Transports []struct {
					Name   string `json:"name"`
					OK     bool   `json:"ok"`
					Got    int    `json:"got"`
					MS     int    `json:"ms"`
					Detail string `json:"detail"`
				} `json:"transports"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("verdict %s: %v", raw, err)
			}
			if got.Error != "" {
				t.Errorf("page error: %s", got.Error)
			}
			var names []string
			for _, tr := range got.Transports {
				names = append(names, tr.Name)
				if why, ok := unreadable[e][tr.Name]; ok && !tr.OK {
					t.Logf("%s: not readable here: %s; the page saw: %s", tr.Name, why, tr.Detail)
					continue
				}
				want := httpPublications
				if tr.Name == "sse" {
					want += sseMissed
				}
				if !tr.OK || tr.Got != want {
					t.Errorf("%s: %d of %d publications in order: %s", tr.Name, tr.Got, want, tr.Detail)
					continue
				}
				t.Logf("%s: %d publications in order in %d ms; %s", tr.Name, tr.Got, tr.MS, tr.Detail)
			}
			if !slices.Equal(names, browserTransports) {
				t.Errorf("the page ran %q, want %q", names, browserTransports)
			}
		})
	}
}
