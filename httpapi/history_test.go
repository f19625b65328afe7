package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestHistoryFigures: publications kept for resume show in /api/stats and
// /metrics, and stay under the cap however many are published.
func TestHistoryFigures(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	srv := startPush(t, server.Config{Loops: 1, History: session.HistoryConfig{Size: 10, MaxBytes: limit}})
	hs := httptest.NewServer(httpapi.New(srv, nil))
	t.Cleanup(hs.Close)
	payload := strings.Repeat("x", 100)
	for i := range 30 {
		// Three topics of ten kept each, with no subscriber: history
		// numbers them anyway.
		if code, body := do(t, "POST", fmt.Sprintf("%s/api/publish?topic=t%d", hs.URL, i%3), payload); code != 200 || !strings.Contains(body, fmt.Sprintf(`"offset":%d`, i/3+1)) {
			t.Fatalf("publish %d: %d %s", i, code, body)
		}
	}
	_, body := do(t, "GET", hs.URL+"/api/stats", "")
	var st httpapi.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	h := st.History
	if h.Topics != 3 || h.Entries != 30 || h.Bytes < 30*100 || h.Bytes > limit || h.MaxBytes != limit {
		t.Fatalf("history %+v, want 3 topics, 30 entries of at least 100 bytes, cap %d", h, limit)
	}
	_, metrics := do(t, "GET", hs.URL+"/metrics", "")
	for _, want := range []string{"c1m_history_topics 3", "c1m_history_entries 30", fmt.Sprintf("c1m_history_bytes %d", h.Bytes)} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Far past the cap: the oldest entries go, the total stays bounded.
	big := strings.Repeat("y", 4<<10)
	for i := range 100 {
		if code, _ := do(t, "POST", fmt.Sprintf("%s/api/publish?topic=b%d", hs.URL, i), big); code != 200 {
			t.Fatalf("publish big %d: %d", i, code)
		}
	}
	_, body = do(t, "GET", hs.URL+"/api/stats", "")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.History.Bytes > limit || st.History.Entries == 0 {
		t.Fatalf("history %+v after 400 KiB published, cap %d", st.History, limit)
	}
}
