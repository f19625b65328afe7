package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// Pages for the harness's own test, each behind its path.
var pages = map[string]string{
	// A verdict with non-ASCII text, after a console error: logged every
	// 100 ms from the load event on, so that WebKit's console hook, which
	// the first poll after the load installs, sees some of them.
	"/verdict": `<!doctype html><meta charset="utf-8"><script>
addEventListener("load", () => {
  let n = 0;
  const tick = setInterval(() => {
    console.error("page says boom", ++n);
    if (n === 10) {
      clearInterval(tick);
      window.c1mResult = { ok: true, n: 42, s: "héllo ✓" };
    }
  }, 100);
});
</script>`,
	// No verdict ever.
	"/never": `<!doctype html><p>nothing to see`,
	// A verdict that JSON.stringify turns into undefined.
	"/function": `<!doctype html><script>window.c1mResult = () => 1;</script>`,
}

func servePages(t *testing.T) string {
	mux := http.NewServeMux()
	for path, body := range pages {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(body))
		})
	}
	hs := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(hs.Close)
	return hs.URL
}

// Timeouts of the cases below. A cold Firefox takes about 4 s to start on
// a loaded 2-core machine; noVerdictTimeout leaves room for that, and is
// the time the "never" case waits in each engine.
const (
	verdictTimeout   = time.Minute
	noVerdictTimeout = 12 * time.Second
	cancelAfter      = 2 * time.Second
)

// TestRun drives every engine through the ends of a run: a verdict (with
// console lines), none before the deadline, a test that gives up first,
// and a verdict that is not JSON.
func TestRun(t *testing.T) {
	t.Parallel()
	base := servePages(t)
	for _, e := range All() {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			Require(t, e)
			t.Run("verdict", func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), verdictTimeout)
				defer cancel()
				o, err := run(ctx, e, base+"/verdict")
				if err != nil {
					t.Fatal(err)
				}
				var got struct {
					OK bool   `json:"ok"`
					N  int    `json:"n"`
					S  string `json:"s"`
				}
				if err := json.Unmarshal(o.result, &got); err != nil || !got.OK || got.N != 42 || got.S != "héllo ✓" {
					t.Fatalf("verdict %s (%v)", o.result, err)
				}
				if !slices.ContainsFunc(o.console, func(l string) bool { return strings.Contains(l, "page says boom") }) {
					t.Errorf("console lines %q: none says \"page says boom\"", o.console)
				}
				if o.browser == "" {
					t.Error("no browser version")
				}
				t.Logf("%s: %s, %d console lines, first %q", o.browser, o.result, len(o.console), o.console[:min(1, len(o.console))])
			})
			t.Run("never", func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), noVerdictTimeout)
				defer cancel()
				start := time.Now()
				_, err := Run(ctx, t, e, base+"/never")
				if !errors.Is(err, ErrNoResult) {
					t.Fatalf("got %v, want ErrNoResult", err)
				}
				// Run stops the browser before it returns: not much later
				// than the deadline.
				if took := time.Since(start); took > noVerdictTimeout+stopWait+firefoxReserve {
					t.Errorf("returned %v after the start, deadline %v", took, noVerdictTimeout)
				}
				t.Log(err)
			})
			t.Run("cancelled", func(t *testing.T) {
				// The test gives up while the browser starts or waits: Run
				// stops it and returns at once, well before the deadline.
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), verdictTimeout)
				defer cancel()
				time.AfterFunc(cancelAfter, cancel)
				start := time.Now()
				_, err := Run(ctx, t, e, base+"/never")
				if !errors.Is(err, ErrNoResult) {
					t.Fatalf("got %v, want ErrNoResult", err)
				}
				t.Log(err)
				if took := time.Since(start); took > cancelAfter+stopWait+firefoxReserve {
					t.Errorf("returned %v after the start, cancelled after %v", took, cancelAfter)
				}
			})
			t.Run("function", func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), verdictTimeout)
				defer cancel()
				if _, err := Run(ctx, t, e, base+"/function"); !errors.Is(err, ErrNotJSON) {
					t.Fatalf("got %v, want ErrNotJSON", err)
				}
			})
		})
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		in   *string
		ok   bool
	}{
		{"object", s(`{"ok":true}`), true},
		{"number", s(`200`), true},
		{"undefined", nil, false},
		{"not JSON", s(`{ok`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := verdict(tc.in)
			if tc.ok != (err == nil) || (tc.ok && string(got) != *tc.in) {
				t.Fatalf("verdict(%v) = %s, %v", tc.in, got, err)
			}
			if !tc.ok && !errors.Is(err, ErrNotJSON) {
				t.Fatalf("error %v, want ErrNotJSON", err)
			}
		})
	}
}
