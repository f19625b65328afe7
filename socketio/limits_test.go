package socketio

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// denials records Config.Denied's calls.
type denials struct {
	mu sync.Mutex
	n  map[server.Denial]int
}

func (d *denials) add(x server.Denial) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[server.Denial]int{}
	}
	d.n[x]++
}

func (d *denials) count(x server.Denial) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[x]
}

// TestPublishRate: past PublishRate's burst a publish is refused with
// "publish rate limited", counted as a publish_rate denial, and publishes
// nothing; a client that keeps on is closed. Other events still go.
func TestPublishRate(t *testing.T) {
	t.Parallel()
	var d denials
	r := pushRig(t, &Config{Denied: d.add}, &PushConfig{ClientPublish: true, PublishRate: 0.001, PublishBurst: 1})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.send(`21["subscribe","a"]`)
	c.expect(`31[null]`)
	c.send(`22["publish","a","one"]`)
	c.expectSet(`2["message","one"]`, `32[null]`)
	c.send(`23["publish","a","two"]`)
	c.expect(`33["publish rate limited"]`)
	if n := d.count(server.DenyPublishRate); n != 1 {
		t.Fatalf("%d publish_rate denials, want 1", n)
	}
	c.send(`24["subscribe","b"]`)
	c.expect(`34[null]`)
	// Three bursts' worth of refusals in a row (the first counts), then
	// the client is closed.
	for i := 5; i < 5+rateStrikes-1; i++ {
		c.send(fmt.Sprintf(`2%d["publish","a","more"]`, i))
		c.expect(fmt.Sprintf(`3%d["publish rate limited"]`, i))
	}
	c.send(`299["publish","a","more"]`)
	if reason := c.rec.waitClosed(t); reason != server.ReasonPublishRateLimited {
		t.Fatalf("closed with %q", reason)
	}
	if n := d.count(server.DenyPublishRate); n != 1+rateStrikes {
		t.Fatalf("%d publish_rate denials, want %d", n, 1+rateStrikes)
	}
}

// TestDeniedCounts: token refusals at CONNECT, rooms and publishes
// outside the policy, and events over EventRate are counted under the
// other transports' names.
func TestDeniedCounts(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{testSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	var d denials
	r := pushRig(t, &Config{Tokens: v, TokenRequired: true, Denied: d.add}, &PushConfig{EventRate: 0.001, EventBurst: 3})
	c := r.open()
	c.send(`0{}`)
	c.expect(`4{"message":"token required"}`)
	c.send(fmt.Sprintf(`0{"token":%q}`, signToken(t, "ann", -time.Minute)))
	c.expect(`4{"message":"token expired"}`)
	c.send(`0{"token":"x.y.z"}`)
	c.expect(`4{"message":"invalid token"}`)
	c.send(fmt.Sprintf(`0{"token":%q}`, signToken(t, "ann", time.Minute, "topics", []string{"news"})))
	c.expectPrefix(`0{"sid":"`)
	c.send(`21["subscribe","other"]`)
	c.expect(`31["room not allowed"]`)
	c.send(`22["publish","news","x"]`)
	c.expect(`32["publishing is not allowed"]`)
	c.send(`23["subscribe","news"]`)
	c.expect(`33[null]`)
	c.send(`24["subscribe","news"]`)
	c.expect(`34["rate limited"]`)
	for _, w := range []struct {
		d    server.Denial
		want int
	}{{server.DenyTokenRequired, 1}, {server.DenyTokenExpired, 1}, {server.DenyTokenInvalid, 1},
		{server.DenySubscribe, 1}, {server.DenyPublish, 1}, {server.DenyCommandRate, 1}} {
		if n := d.count(w.d); n != w.want {
			t.Errorf("%s: %d denials, want %d", w.d, n, w.want)
		}
	}
}

// TestUserLimit: a Socket.IO token's user holds a slot of the server's
// MaxConnsPerUser for its Engine.IO session's life: a CONNECT over the
// cap gets connect_error "too many connections for this user", counted,
// on polling and WebSocket alike; once the first session ends, the user
// connects again.
func TestUserLimit(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{testSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	sio := New(&Config{Tokens: v})
	ServePush(sio.Of("/"), nil)
	srv := server.New(nil, &server.Config{
		Addr: "127.0.0.1:0", Loops: 2, MaxConnsPerUser: 1,
		Engine: sio.EngineConfig(&server.EngineConfig{PingInterval: time.Hour}),
	})
	sio.Attach(srv.Hub())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	ann := fmt.Sprintf(`0{"token":%q}`, signToken(t, "ann", time.Hour))
	dial := func() *websocket.Conn {
		ws, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/socket.io/?EIO=4&transport=websocket", srv.Addr()), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if m := wsText(t, ws); !strings.HasPrefix(m, "0{") {
			t.Fatalf("open %q", m)
		}
		return ws
	}
	first := dial()
	wsSend(t, first, "4"+ann)
	if m := wsText(t, first); !strings.HasPrefix(m, `40{"sid":"`) {
		t.Fatalf("ann's first: %q", m)
	}
	second := dial()
	wsSend(t, second, "4"+ann)
	if m := wsText(t, second); m != `44{"message":"`+server.ReasonUserLimit+`"}` {
		t.Fatalf("ann's second: %q", m)
	}
	refusals := func() (n uint64) {
		for _, sh := range (*session.Hub)(srv.Hub()).Shards() {
			n += sh.Stats().Evictions(session.ReasonPerUserLimit)
		}
		return n
	}
	if n := refusals(); n != 1 {
		t.Fatalf("%d per-user refusals counted, want 1", n)
	}
	wsSend(t, second, "4"+fmt.Sprintf(`0{"token":%q}`, signToken(t, "bob", time.Hour)))
	if m := wsText(t, second); !strings.HasPrefix(m, `40{"sid":"`) {
		t.Fatalf("bob on the refused session: %q", m)
	}
	// The first session ends: ann's slot is free.
	first.Close()
	third := dial()
	deadline := time.Now().Add(10 * time.Second) // a hang guard
	for {
		wsSend(t, third, "4"+ann)
		m := wsText(t, third)
		if strings.HasPrefix(m, `40{"sid":"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ann once her first session ended: %q", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wsSend(t *testing.T, ws *websocket.Conn, m string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
		t.Fatal(err)
	}
}

// wsText reads the next message that is not a ping packet.
func wsText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(b) != "2" {
			return string(b)
		}
	}
}
