package broker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is what one client of a cluster test received: the offsets of
// its topic's publications, in arrival order, and the direct messages.
type recorder struct {
	mu      sync.Mutex
	offsets []uint64
	bodies  []string
	direct  []string
	epoch   string
	last    uint64 // the last offset seen, to resume from
	ready   chan struct{}
	once    sync.Once
}

func newRecorder() *recorder { return &recorder{ready: make(chan struct{})} }

func (r *recorder) subscribed(e envelope) {
	r.mu.Lock()
	if r.epoch == "" {
		r.epoch, r.last = e.Epoch, e.Offset
	}
	r.mu.Unlock()
	r.once.Do(func() { close(r.ready) })
}

// take records one object of the client's stream.
func (r *recorder) take(raw []byte) {
	var e envelope
	if json.Unmarshal(raw, &e) != nil {
		return
	}
	switch {
	case e.Op == "subscribed":
		r.subscribed(e)
	case e.Op == "message":
		r.mu.Lock()
		r.direct = append(r.direct, e.Data)
		r.mu.Unlock()
	case e.Op == "" && e.Topic != "":
		r.mu.Lock()
		r.offsets = append(r.offsets, e.Offset)
		r.bodies = append(r.bodies, e.Data)
		r.last = e.Offset
		r.mu.Unlock()
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.offsets)
}

// sseClient reads an SSE stream until ctx ends.
func sseClient(ctx context.Context, t testing.TB, hc *http.Client, url string, r *recorder) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			t.Errorf("sse %s: %v", url, err)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("sse %s: %s", url, resp.Status)
		return
	}
	br := bufio.NewReader(resp.Body)
	event := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			event = ""
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data := []byte(line[len("data: "):])
			if event == "direct" {
				var e envelope
				if json.Unmarshal(data, &e) == nil {
					r.mu.Lock()
					r.direct = append(r.direct, e.Data)
					r.mu.Unlock()
				}
				continue
			}
			r.take(data)
			if event == "session" {
				r.take(data) // {"op":"open","sid":...}: ignored by take
			}
		}
	}
}

// pollReply is a long-poll answer.
type pollReply struct {
	Cursor   string            `json:"cursor"`
	Messages []json.RawMessage `json:"messages"`
}

// pollClient long-polls base (".../poll?topic=T") until ctx ends.
func pollClient(ctx context.Context, t testing.TB, hc *http.Client, base, first string, r *recorder) {
	url := base + "/poll?wait=0&" + first // the first answers at once: subscribed
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("poll %s: %v", url, err)
			}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			if ctx.Err() == nil {
				t.Errorf("poll %s: %s %v %s", url, resp.Status, err, body)
			}
			return
		}
		var pr pollReply
		if err := json.Unmarshal(body, &pr); err != nil {
			t.Errorf("poll reply %q: %v", body, err)
			return
		}
		for _, m := range pr.Messages {
			r.take(m)
		}
		r.once.Do(func() { close(r.ready) })
		url = base + "/poll?cursor=" + pr.Cursor
	}
}

// waitFor polls cond until it holds, failing after a generous deadline (a
// hang guard).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, time.Now().Add(60*time.Second), what, cond)
}

// waitUntil polls cond until it holds, failing at deadline.
func waitUntil(t testing.TB, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func httpClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func publishAPI(hc *http.Client, api, topic, body string) (uint64, error) {
	resp, err := hc.Post(api+"/api/publish?topic="+topic, "text/plain", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var out struct{ Offset uint64 }
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out.Offset, err
}
