package server_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestMaxConnsPerUser: a user's sessions on every transport count against
// one cap; over it 429 with Retry-After, counted; other users and
// anonymous clients are not affected; a session that ends frees its slot.
func TestMaxConnsPerUser(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{authSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 2
	srv, addr := start(t, server.NewPush(&server.PushConfig{Tokens: v}), server.Config{MaxConnsPerUser: limit, PollTimeout: 5 * time.Second})
	ann := hsToken(t, "ann")
	ws := wsClient(t, addr, url.Values{"token": {ann}, "topic": {"news"}})
	sse := openStream(t, addr, "/sse?topic=news&token="+ann, "")
	for _, transport := range []string{"websocket", "sse", "stream", "poll"} {
		q := url.Values{"token": {ann}, "topic": {"news"}}
		status, body := connectStatus(t, addr, transport, q)
		if status != http.StatusTooManyRequests || !strings.Contains(body, server.ReasonUserLimit) {
			t.Fatalf("%s over the cap: %d %q", transport, status, body)
		}
	}
	// The refusal carries Retry-After.
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+ann, nil); err == nil || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("upgrade over the cap: %v, Retry-After %q", err, resp.Header.Get("Retry-After"))
	}
	if n := evictions(srv, session.ReasonPerUserLimit); n != 5 {
		t.Fatalf("per_user_limit counted %d, want 5", n)
	}
	bob := hsToken(t, "bob")
	wsClient(t, addr, url.Values{"token": {bob}})
	wsClient(t, addr, url.Values{"token": {bob}})
	for range 3 {
		wsClient(t, addr, url.Values{}) // anonymous
	}
	// The two of ann's that opened are served.
	publishRange(t, srv, "news", "m", 0, 1)
	wsExpect(t, ws, "m0")
	sse.expectStart("news", false)
	sse.expectPubs("news", "m", 0, 1, 1)
	// Ann's WebSocket goes: a slot is free again.
	ws.Close()
	waitFor(t, "ann's WebSocket to end", func() bool { return sessions(srv) == 1+2+3 })
	wsClient(t, addr, url.Values{"token": {ann}})
}

// TestMaxPollsPerIP: polls held at once by one address are capped apart
// from its other connections; over it 429 with Retry-After, counted;
// another address is not affected; an answered poll frees its slot.
func TestMaxPollsPerIP(t *testing.T) {
	t.Parallel()
	const limit = 2
	srv, addr := start(t, server.NewPush(nil), server.Config{MaxPollsPerIP: limit, PollTimeout: 10 * time.Second})
	type answer struct {
		status int
		body   string
		err    error
	}
	held := make(chan answer, limit)
	for range limit {
		go func() {
			resp, err := httpClient.Get("http://" + addr + "/poll?topic=news")
			if err != nil {
				held <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			held <- answer{resp.StatusCode, string(b), err}
		}()
	}
	waitFor(t, "the held polls", func() bool { return srv.Hub().Totals().Sessions == limit })
	for _, q := range []string{"topic=news", "topic=news&wait=0"} {
		resp, err := httpClient.Get("http://" + addr + "/poll?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("poll over the cap: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// A WebSocket and an SSE stream from the same address are not polls.
	wsClient(t, addr, url.Values{"topic": {"news"}})
	openStream(t, addr, "/sse?topic=news", "")
	// Another address polls.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	resp, err := other.Get("http://" + addr + "/poll?topic=news&wait=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll from another address: %d", resp.StatusCode)
	}
	if n := evictions(srv, session.ReasonPollsPerIP); n != 2 {
		t.Fatalf("polls_per_ip counted %d, want 2", n)
	}
	// A publication answers the held polls; their slots are free again.
	publishRange(t, srv, "news", "m", 0, 1)
	for range limit {
		if a := <-held; a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, "m0") {
			t.Fatalf("a held poll: %d %q %v, want the publication", a.status, a.body, a.err)
		}
	}
	if st, body := get(t, "http://"+addr+"/poll?topic=news&wait=0"); st != http.StatusOK {
		t.Fatalf("poll after the others ended: %d %q", st, body)
	}
}

// TestPublishRate: publications are limited apart from other commands:
// past the burst a publish gets "publish rate limited" while subscribes
// still run, and a session that keeps publishing is closed with 1008; a
// watcher receives exactly the publications that were accepted, and
// another publisher's all.
func TestPublishRate(t *testing.T) {
	t.Parallel()
	const burst = 5
	// A rate so low that the burst is all the test can use.
	push := server.NewPush(&server.PushConfig{ClientPublish: true, PublishRate: 0.01, PublishBurst: burst})
	srv, addr := start(t, push, server.Config{})
	watcher := wsClient(t, addr, url.Values{"topic": {"chat"}})
	flooder := wsClient(t, addr, url.Values{})
	other := wsClient(t, addr, url.Values{})
	pub := func(c *websocket.Conn, id int, data string) string {
		return fmt.Sprintf(`{"op":"publish","topic":"chat","data":%q,"id":%d}`, data, id)
	}
	for i := range burst {
		wsExchange(t, flooder, pub(flooder, i, fmt.Sprint("f", i)), fmt.Sprintf(`{"op":"ok","id":%d}`, i))
	}
	for i := burst; i < burst+3*burst; i++ {
		wsExchange(t, flooder, pub(flooder, i, "spam"), errorReply(i, server.ReasonPublishRateLimited))
		if i == burst {
			wsExchange(t, flooder, `{"op":"subscribe","topic":"x","id":100}`, `{"op":"ok","id":100}`)
		}
	}
	if err := flooder.WriteMessage(websocket.TextMessage, []byte(pub(flooder, 99, "spam"))); err != nil {
		t.Fatal(err)
	}
	expectClose(t, flooder, websocket.ClosePolicyViolation, server.ReasonPublishRateLimited)
	wsExchange(t, other, pub(other, 1, "o0"), `{"op":"ok","id":1}`)
	for i := range burst {
		wsExpect(t, watcher, fmt.Sprint("f", i))
	}
	wsExpect(t, watcher, "o0") // no spam in between
	if n := push.Denials(server.DenyPublishRate); n != 3*burst {
		t.Fatalf("publish_rate denials %d, want %d", n, 3*burst)
	}
	if n := evictions(srv, session.ReasonPublishRate); n != 1 {
		t.Fatalf("publish_rate evictions %d, want 1", n)
	}
}
