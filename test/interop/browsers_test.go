package interop

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/browsertest"
)

//go:embed browser/echo.html
var echoPage []byte

// browserEchoes are sent at once by each browser, and must come back in
// order: a few hundred messages in flight exercise the server's batching
// of reads and writes, not just one round trip.
const browserEchoes = 200

// browserEchoTimeout bounds one engine's run: start, page, verdict, close.
// A run takes a few seconds; a cold Firefox start alone can take five on a
// loaded 2-core machine.
const browserEchoTimeout = time.Minute

// TestBrowsersEcho loads browser/echo.html in every browser engine
// (internal/browsertest): the page sends browserEchoes messages, text and
// binary in turn, through the browser's own WebSocket to the echo server
// and reports how many came back, in order, before a clean close.
func TestBrowsersEcho(t *testing.T) {
	t.Parallel()
	ws := startEcho(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(echoPage)
	})
	hs := httptest.NewServer(mux) // 127.0.0.1; the page's origin
	t.Cleanup(hs.Close)
	page := hs.URL + "/?" + url.Values{"ws": {ws}, "n": {strconv.Itoa(browserEchoes)}}.Encode()

	for _, e := range browsertest.All() {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), browserEchoTimeout)
			defer cancel()
			raw, err := browsertest.Run(ctx, t, e, page)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				OK     bool   `json:"ok"`
				Got    int    `json:"got"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("verdict %s: %v", raw, err)
			}
			if !got.OK || got.Got != browserEchoes {
				t.Fatalf("%d of %d echoes in order, ok=%v: %s", got.Got, browserEchoes, got.OK, got.Detail)
			}
			t.Logf("%d echoes in order; %s", got.Got, got.Detail)
		})
	}
}
