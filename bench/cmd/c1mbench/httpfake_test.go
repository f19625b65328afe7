package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHTTP is a server of the HTTP transports, with one topic and a log
// of its publications (offset = index + 1): c1m's /sse and /poll
// (PROTOCOL.md: open and subscribed objects, envelopes, cursors), or,
// with centrifugo set, Centrifugo's uni_sse and API. It also keeps
// history for the history scenario and serves stats whose heap grows by
// heapPerEntry per kept entry. net/http underneath: a goroutine per
// connection is fine for a test.
type fakeHTTP struct {
	srv          *httptest.Server
	centrifugo   bool
	fault        func(client int, seq uint64) (copies int)
	heapPerEntry int64
	historyStats bool // c1m's stats have the history object
	keepNothing  bool // no history: publications to topics without subscribers are dropped

	mu      sync.Mutex // guards the fields below
	log     []string
	changed chan struct{} // closed and replaced on each publication
	clients int
	history map[string]int // topic -> entries kept
	held    int            // polls held now
	maxHeld int
}

// historyLimit is the entries the fake keeps per topic.
const historyLimit = 100

const fakeEpoch = "e1"

func newFakeHTTP(t *testing.T, f *fakeHTTP) *fakeHTTP {
	t.Helper()
	f.changed, f.history = make(chan struct{}), map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sse", f.sse)
	mux.HandleFunc("GET /connection/uni_sse", f.sse)
	mux.HandleFunc("GET /poll", f.poll)
	mux.HandleFunc("POST /publish", f.publish)
	mux.HandleFunc("POST /api/publish", f.publish)
	mux.HandleFunc("GET /stats", f.stats)
	mux.HandleFunc("GET /debug/pprof/heap", f.stats)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// target is the fake as the driver sees it.
func (f *fakeHTTP) target() target {
	addr := f.srv.Listener.Addr().String()
	if f.centrifugo {
		connect := url.QueryEscape(`{"subs":{"` + centrifugoChannel + `":{}}}`)
		return target{name: "fake-centrifugo", ws: addr, api: addr, topic: centrifugoChannel,
			endpoints: map[string]endpoint{"sse": {path: "/connection/uni_sse?cf_connect=" + connect, dialect: dialectCentrifugo}},
			publish:   publishing{path: "/api/publish", json: true, key: centrifugoAPIKey},
			history:   centrifugoHistory + "h", stats: "/debug/pprof/heap?debug=1&gc=1"}
	}
	return target{name: "fake-c1m", ws: addr, api: addr, topic: "t",
		endpoints: map[string]endpoint{"sse": {path: "/sse?topic=t", dialect: dialectC1m}, "poll": {path: "/poll?topic=t", dialect: dialectC1m}},
		publish:   publishing{path: "/publish?topic="}, history: "h", stats: "/stats?gc=1"}
}

func (f *fakeHTTP) copies(client int, seq int) int {
	if f.fault == nil {
		return 1
	}
	return f.fault(client, uint64(seq))
}

func (f *fakeHTTP) sse(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "text/event-stream" {
		http.Error(w, "not an event stream request", http.StatusBadRequest)
		return
	}
	if f.centrifugo && r.URL.Query().Get("cf_connect") != `{"subs":{"`+centrifugoChannel+`":{}}}` ||
		!f.centrifugo && r.URL.Query().Get("topic") != "t" {
		http.Error(w, "no such topic", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	id, pos := f.clients, len(f.log)
	f.clients++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	if f.centrifugo {
		fmt.Fprintf(w, "\r\ndata: {\"connect\":{\"client\":\"c%d\",\"subs\":{\"%s\":{}},\"ping\":25}}\n\ndata: {}\n\n", id, centrifugoChannel)
	} else {
		fmt.Fprintf(w, "retry: 2000\n\nevent: open\ndata: {\"op\":\"open\",\"sid\":\"s%d\",\"topics\":[{\"topic\":\"t\",\"epoch\":\"%s\",\"offset\":%d}]}\n\n", id, fakeEpoch, pos)
	}
	w.(http.Flusher).Flush()
	for {
		f.mu.Lock()
		batch, changed := f.log[pos:], f.changed
		f.mu.Unlock()
		for i, p := range batch {
			off := pos + i + 1
			for range f.copies(id, off) {
				if f.centrifugo {
					fmt.Fprintf(w, "data: {\"channel\":%q,\"pub\":{\"data\":%q}}\n\n", centrifugoChannel, p)
				} else {
					fmt.Fprintf(w, "id: %s-%d\ndata: {\"topic\":\"t\",\"offset\":%d,\"epoch\":%q,\"data\":%q}\n\n", fakeEpoch, off, off, fakeEpoch, p)
				}
			}
		}
		if len(batch) > 0 {
			fmt.Fprint(w, ": heartbeat\n\n")
			w.(http.Flusher).Flush()
		}
		pos += len(batch)
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// pollWaitCap bounds a held poll in the fake, whatever wait= says.
const pollWaitCap = 5 * time.Second

func (f *fakeHTTP) poll(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var id, pos int
	var msgs []string
	if cur := q.Get("cursor"); cur != "" {
		if _, err := fmt.Sscanf(cur, "c%d-%d", &id, &pos); err != nil {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
	} else {
		if q.Get("topic") != "t" {
			http.Error(w, "no topic", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		id, pos = f.clients, len(f.log)
		f.clients++
		f.mu.Unlock()
		msgs = append(msgs, fmt.Sprintf(`{"op":"subscribed","topic":"t","epoch":%q,"offset":%d}`, fakeEpoch, pos))
	}
	wait := time.Duration(0)
	if s := q.Get("wait"); s != "0" {
		secs, err := strconv.ParseFloat(s, 64) // seconds, as c1m reads it
		if err != nil {
			http.Error(w, "bad wait", http.StatusBadRequest)
			return
		}
		wait = min(time.Duration(secs*float64(time.Second)), pollWaitCap)
	}
	deadline := time.After(wait)
	f.mu.Lock()
	f.held++
	f.maxHeld = max(f.maxHeld, f.held)
	for len(f.log) <= pos && wait > 0 {
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			wait = 0
		case <-r.Context().Done():
			wait = 0
		}
		f.mu.Lock()
	}
	f.held--
	batch := f.log[pos:]
	f.mu.Unlock()
	for i, p := range batch {
		off := pos + i + 1
		for range f.copies(id, off) {
			msgs = append(msgs, fmt.Sprintf(`{"topic":"t","offset":%d,"epoch":%q,"data":%q}`, off, fakeEpoch, p))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"cursor":"c%d-%d","messages":[%s],"more":false}`, id, pos+len(batch), strings.Join(msgs, ","))
}

func (f *fakeHTTP) publish(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	topic := r.URL.Query().Get("topic")
	if f.centrifugo {
		var cmd struct{ Channel, Data string }
		if r.Header.Get("X-API-Key") != centrifugoAPIKey || json.Unmarshal(body, &cmd) != nil {
			_, _ = w.Write([]byte(`{"error":{"code":101,"message":"unauthorized"}}`))
			return
		}
		topic, body = cmd.Channel, []byte(cmd.Data)
	}
	if _, _, _, ok := decodePayload(body); !ok {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if topic == "t" || topic == centrifugoChannel {
		f.log = append(f.log, string(body))
		close(f.changed)
		f.changed = make(chan struct{})
	} else if !f.keepNothing {
		f.history[topic] = min(f.history[topic]+1, historyLimit)
	}
	_, _ = fmt.Fprintf(w, `{"topic":%q,"offset":%d}`, topic, len(f.log))
}

func (f *fakeHTTP) stats(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	entries := 0
	for _, n := range f.history {
		entries += n
	}
	f.mu.Unlock()
	heap := 1<<20 + int64(entries)*f.heapPerEntry
	if f.centrifugo {
		fmt.Fprintf(w, "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 1\n# HeapInuse = %d\n# Stack = 1\n", heap)
		return
	}
	st := map[string]any{"connections": 0, "heap_inuse_bytes": heap}
	if f.historyStats {
		st["history"] = map[string]int{"entries": entries, "bytes": entries * 80}
	}
	_ = json.NewEncoder(w).Encode(st)
}

// TestHTTPFanout runs sse-fanout and poll-fanout with two workers against
// the fake, clean and with a lost or repeated delivery, and checks that
// loss is found from sequence numbers and from the server's offsets.
func TestHTTPFanout(t *testing.T) {
	t.Parallel()
	const n, pubs, bursts, burst = 60, 3, 2, 5
	const total = pubs + bursts*burst
	miss := func(c int, seq uint64) int {
		if c == 0 && seq == 2 {
			return 0
		}
		return 1
	}
	twice := func(c int, seq uint64) int {
		if c == 5 && seq == 3 {
			return 2
		}
		return 1
	}
	cases := []struct {
		name, scenario      string
		centrifugo          bool
		fault               func(int, uint64) int
		lossy               int
		missing, dups, gaps int64
		back, recvOff       int64
		timeouts            bool
	}{
		{name: "c1m sse clean", scenario: "sse-fanout"},
		{name: "c1m sse, a client misses publication 2", scenario: "sse-fanout", fault: miss, lossy: 1, missing: 1, gaps: 1, recvOff: -1, timeouts: true},
		{name: "c1m sse, a client gets publication 3 twice", scenario: "sse-fanout", fault: twice, lossy: 1, dups: 1, back: 1, recvOff: 1},
		{name: "centrifugo uni_sse clean", scenario: "sse-fanout", centrifugo: true},
		{name: "centrifugo uni_sse, a client misses publication 2", scenario: "sse-fanout", centrifugo: true, fault: miss, lossy: 1, missing: 1, recvOff: -1, timeouts: true},
		{name: "c1m poll clean", scenario: "poll-fanout"},
		{name: "c1m poll, a reply lacks publication 2", scenario: "poll-fanout", fault: miss, lossy: 1, missing: 1, gaps: 1, recvOff: -1, timeouts: true},
		{name: "c1m poll, a reply has publication 3 twice", scenario: "poll-fanout", fault: twice, lossy: 1, dups: 1, back: 1, recvOff: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeHTTP(t, &fakeHTTP{centrifugo: c.centrifugo, fault: c.fault})
			r := testRun(t, func(o *options) {
				o.workers, o.perWorker = 2, n/2
				o.pubs, o.bursts, o.burst = pubs, bursts, burst
				o.deliverTimeout = time.Second
			})
			row, err := r.measure(f.target(), c.scenario, n)
			if err != nil {
				t.Fatal(err)
			}
			if row.Workers != 2 || row.Conns != n || row.Disconnected != 0 || row.Errors != 0 {
				t.Fatalf("workers %d conns %d disconnected %d errors %d, want 2, %d, 0, 0", row.Workers, row.Conns, row.Disconnected, row.Errors, n)
			}
			if want := int64(n * total); row.Expected != want || row.Received != want+c.recvOff {
				t.Fatalf("received %d expected %d, want %d and %d", row.Received, row.Expected, want+c.recvOff, want)
			}
			if row.LossyClients != c.lossy || row.Missing != c.missing || row.Duplicates != c.dups ||
				row.OffsetGaps != c.gaps || row.OffsetBack != c.back || row.Undecoded != 0 {
				t.Fatalf("lossy %d missing %d dups %d offset gaps %d back %d undecoded %d, want %d %d %d %d %d 0",
					row.LossyClients, row.Missing, row.Duplicates, row.OffsetGaps, row.OffsetBack, row.Undecoded,
					c.lossy, c.missing, c.dups, c.gaps, c.back)
			}
			if (row.DeliveryTimeouts > 0) != c.timeouts {
				t.Fatalf("%d delivery timeouts", row.DeliveryTimeouts)
			}
			if row.DeliveriesPerSec <= 0 || row.BurstPerSec <= 0 || row.P99 <= 0 || row.Publications != total {
				t.Fatalf("rates %v %v p99 %v publications %d", row.DeliveriesPerSec, row.BurstPerSec, row.P99, row.Publications)
			}
		})
	}
}

// TestHTTPHold: sse-hold and poll-hold split over workers, every client
// ready (subscribed, or holding its poll) before the memory reading.
func TestHTTPHold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scenario   string
		centrifugo bool
	}{{"sse-hold", false}, {"sse-hold", true}, {"poll-hold", false}} {
		t.Run(fmt.Sprintf("%s centrifugo=%v", c.scenario, c.centrifugo), func(t *testing.T) {
			t.Parallel()
			const n = 50
			f := newFakeHTTP(t, &fakeHTTP{centrifugo: c.centrifugo})
			r := testRun(t, func(o *options) { o.perWorker = 20 })
			row, err := r.measure(f.target(), c.scenario, n)
			if err != nil {
				t.Fatal(err)
			}
			if row.Workers != 3 || row.Conns != n || row.Errors != 0 || row.Transport != strings.Split(c.scenario, "-")[0] {
				t.Fatalf("workers %d conns %d errors %d transport %s, want 3, %d, 0", row.Workers, row.Conns, row.Errors, row.Transport, n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.clients != n {
				t.Fatalf("the server saw %d clients", f.clients)
			}
			if c.scenario == "poll-hold" && f.maxHeld != n {
				t.Fatalf("at most %d polls held at once, want %d", f.maxHeld, n)
			}
		})
	}
}

// TestHistoryNone: a server whose stats say it kept nothing has no
// history row, not a heap per entry made up from the publications.
func TestHistoryNone(t *testing.T) {
	t.Parallel()
	f := newFakeHTTP(t, &fakeHTTP{heapPerEntry: 100, historyStats: true, keepNothing: true})
	r := testRun(t, func(o *options) { o.historyTopics, o.historyPerTopic = 3, 2 })
	if row, err := r.measure(f.target(), "history", 0); err == nil {
		t.Fatalf("a row: %+v", row)
	}
}

// TestHistory: heap per history entry is the heap's growth over the
// entries kept, counted by the server's stats where it has them
// (c1m's history object), by the publications made otherwise.
func TestHistory(t *testing.T) {
	t.Parallel()
	const topics, per, perEntry = 20, 7, 120
	for _, c := range []struct {
		name                     string
		centrifugo, historyStats bool
	}{{"c1m with history stats", false, true}, {"c1m without", false, false}, {"centrifugo, pprof heap", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeHTTP(t, &fakeHTTP{centrifugo: c.centrifugo, heapPerEntry: perEntry, historyStats: c.historyStats})
			r := testRun(t, func(o *options) { o.historyTopics, o.historyPerTopic = topics, per })
			row, err := r.measure(f.target(), "history", 0)
			if err != nil {
				t.Fatal(err)
			}
			if row.Publications != topics*per || row.PublishErrors != 0 || row.HistoryEntries != topics*per || row.EntriesFromStats != c.historyStats {
				t.Fatalf("publications %d errors %d entries %d from stats %v", row.Publications, row.PublishErrors, row.HistoryEntries, row.EntriesFromStats)
			}
			if row.HeapPerEntry != perEntry || row.PublishPerSec <= 0 {
				t.Fatalf("heap per entry %v, want %d; publishes/s %v", row.HeapPerEntry, perEntry, row.PublishPerSec)
			}
			if c.historyStats && row.StatsBytesPerEntry != 80 {
				t.Fatalf("stats bytes per entry %v, want 80", row.StatsBytesPerEntry)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.history) != topics {
				t.Fatalf("%d topics got publications, want %d", len(f.history), topics)
			}
		})
	}
}
