package server_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
)

// TestPushFanout: 2,000 gorilla/websocket clients spread over the loops,
// subscribed to mixed topics (by URL and by command), get exactly the
// publications of their topics, in order per topic, none lost and none
// duplicated, while 4 goroutines publish 200 messages concurrently.
func TestPushFanout(t *testing.T) {
	const (
		clients    = 2000
		publishers = 4
		perPub     = 50 // 200 publications in all
	)
	topics := []string{"a", "b", "c", "d", "e"}
	srv, addr := start(t, server.NewPush(nil), server.Config{Loops: 4})
	hub := srv.Hub()

	type client struct {
		conn   *websocket.Conn
		topics []string
	}
	cs := make([]*client, clients)
	for i := range cs {
		// Each client takes one or two topics; every fifth subscribes to
		// the second by command after connecting.
		mine := []string{topics[i%len(topics)]}
		if i%3 == 0 {
			mine = append(mine, topics[(i/3)%len(topics)])
			if mine[1] == mine[0] {
				mine = mine[:1]
			}
		}
		url := "ws://" + addr + "/ws?topic=" + mine[0]
		byCommand := i%5 == 0 && len(mine) == 2
		if len(mine) == 2 && !byCommand {
			url += "&topic=" + mine[1]
		}
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if byCommand {
			cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":%d}`, mine[1], i)
			if err := c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, p, err := c.ReadMessage(); err != nil || string(p) != fmt.Sprintf(`{"op":"ok","id":%d}`, i) {
				t.Fatalf("client %d subscribe reply %q %v", i, p, err)
			}
		}
		cs[i] = &client{conn: c, topics: mine}
	}

	// Publish concurrently: publisher w sends "topic:w:k" to topic
	// topics[(w+k)%5]; offsets say the topic's global order.
	type pub struct {
		topic  string
		offset uint64
		body   string
	}
	var mu sync.Mutex
	var pubs []pub
	var wg sync.WaitGroup
	for w := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perPub {
				topic := topics[(w+k)%len(topics)]
				body := fmt.Sprintf("%s:%d:%d", topic, w, k)
				off, err := hub.Publish(topic, []byte(body))
				mu.Lock()
				pubs = append(pubs, pub{topic, off, body})
				mu.Unlock()
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// The offsets give each topic's order; they must be 1..n without gaps.
	slices.SortFunc(pubs, func(a, b pub) int { return cmp.Compare(a.offset, b.offset) })
	byTopic := map[string][]string{}
	for _, p := range pubs {
		byTopic[p.topic] = append(byTopic[p.topic], p.body)
		if uint64(len(byTopic[p.topic])) != p.offset {
			t.Fatalf("topic %s: offset %d for publication #%d", p.topic, p.offset, len(byTopic[p.topic]))
		}
	}

	// Every client reads exactly its topics' publications, each topic in
	// offset order; then nothing more arrives.
	errs := make(chan error, clients)
	for i, c := range cs {
		go func() {
			want := map[string][]string{}
			total := 0
			for _, tp := range c.topics {
				want[tp] = byTopic[tp]
				total += len(byTopic[tp])
			}
			got := map[string]int{}
			_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			for n := 0; n < total; n++ {
				typ, p, err := c.conn.ReadMessage()
				if err != nil {
					errs <- fmt.Errorf("client %d after %d of %d: %v", i, n, total, err)
					return
				}
				tp, _, _ := strings.Cut(string(p), ":")
				k := got[tp]
				if typ != websocket.TextMessage || k >= len(want[tp]) || want[tp][k] != string(p) {
					errs <- fmt.Errorf("client %d (%v): message %d of topic %q is %q", i, c.topics, k, tp, p)
					return
				}
				got[tp]++
			}
			// A marker broadcast after everything: the next message must be
			// it, not a duplicate.
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.Broadcast([]byte("end")); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, p, err := c.conn.ReadMessage(); err != nil || string(p) != "end" {
			t.Fatalf("client %d: after its publications got %q %v, want the end marker", i, p, err)
		}
	}
	tot := hub.Totals()
	t.Logf("deliveries %d, publications fanned out %d", tot.Deliveries, tot.Publications)
}

// TestPushEnvelope: a client that chooses the envelope subprotocol gets
// topic and offset with each publication, base64 for binary payloads.
func TestPushEnvelope(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, server.NewPush(nil), server.Config{Protocols: []string{codec.EnvelopeProtocol}})
	d := websocket.Dialer{Subprotocols: []string{codec.EnvelopeProtocol}}
	c, resp, err := d.Dial("ws://"+addr+"/ws?topic=news", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != codec.EnvelopeProtocol {
		t.Fatalf("protocol %q", got)
	}
	plain, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=news", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, data := range [][]byte{[]byte("héllo <&>"), {0xff, 0x00, 0x01}} {
		if _, err := srv.Hub().Publish("news", data); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_ = plain.SetReadDeadline(time.Now().Add(10 * time.Second))
	epoch, _ := srv.Hub().Position("news")
	want := []string{
		`{"op":"subscribed","topic":"news","epoch":"` + epoch + `","offset":0}`,
		`{"topic":"news","offset":1,"epoch":"` + epoch + `","data":"héllo \u003c\u0026\u003e"}`,
		`{"topic":"news","offset":2,"epoch":"` + epoch + `","data_b64":"/wAB"}`,
	}
	for i, w := range want {
		typ, p, err := c.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(p) != w {
			t.Fatalf("envelope %d: %d %s %v, want %s", i, typ, p, err, w)
		}
		var env map[string]any
		if err := json.Unmarshal(p, &env); err != nil {
			t.Fatalf("envelope %d is not JSON: %v", i, err)
		}
	}
	// The plain client gets the bytes: text for UTF-8, binary otherwise.
	for i, w := range []struct {
		typ  int
		data string
	}{{websocket.TextMessage, "héllo <&>"}, {websocket.BinaryMessage, "\xff\x00\x01"}} {
		typ, p, err := plain.ReadMessage()
		if err != nil || typ != w.typ || string(p) != w.data {
			t.Fatalf("plain %d: %d %q %v", i, typ, p, err)
		}
	}
}

// TestPushCommands: bad commands, topic limits, client publishing off and
// on, unsubscribe, and sending to a user.
func TestPushCommands(t *testing.T) {
	t.Parallel()
	push := server.NewPush(&server.PushConfig{MaxTopics: 2, ClientPublish: true, Auth: func(r *server.Request) error {
		if u := r.Query().Get("user"); u != "" {
			r.SetUser(u)
		}
		return nil
	}})
	srv, addr := start(t, push, server.Config{})
	dial := func(q string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	expect := func(c *websocket.Conn, want string) {
		t.Helper()
		if _, p, err := c.ReadMessage(); err != nil || string(p) != want {
			t.Fatalf("got %q %v, want %q", p, err, want)
		}
	}
	send := func(c *websocket.Conn, s string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	c := dial("?user=ann")
	send(c, `nonsense`)
	expect(c, `{"op":"error","error":"bad command"}`)
	send(c, `{"op":"subscribe","topic":"$user:bob","id":1}`)
	expect(c, `{"op":"error","error":"bad command"}`)
	send(c, `{"op":"subscribe","topic":"x","id":2}`)
	expect(c, `{"op":"ok","id":2}`)
	// The user membership counts as one of the two topics.
	send(c, `{"op":"subscribe","topic":"y","id":3}`)
	expect(c, `{"op":"error","id":3,"error":"too many topics"}`)
	send(c, `{"op":"publish","topic":"x","data":"from a client","id":"p"}`)
	// The reply leaves at once; the publication goes through the hub and
	// the inbox like any other, so it comes after.
	expect(c, `{"op":"ok","id":"p"}`)
	expect(c, "from a client")
	if err := srv.Hub().SendToUser("ann", []byte("for ann")); err != nil {
		t.Fatal(err)
	}
	expect(c, "for ann")
	send(c, `{"op":"unsubscribe","topic":"x","id":4}`)
	expect(c, `{"op":"ok","id":4}`)
	if _, err := srv.Hub().Publish("x", []byte("after unsubscribe")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Hub().Broadcast([]byte("marker")); err != nil {
		t.Fatal(err)
	}
	expect(c, "marker") // nothing from x came first

	resp, err := http.Get("http://" + addr + "/ws?topic=" + strings.Repeat("a", codec.MaxTopicLen+1))
	if err == nil {
		resp.Body.Close()
	}
	bad := websocket.Dialer{}
	if _, resp, err := bad.Dial("ws://"+addr+"/ws?topic=a%20b", nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad topic name: %v %v", resp, err)
	}
}

// TestPushWorkers: with handlers on workers, subscribe and unsubscribe
// commands (Loop-only work) still take effect on the session's loop, in
// order with their replies: run with -race.
func TestPushWorkers(t *testing.T) {
	t.Parallel()
	const clients = 24
	topics := []string{"w0", "w1", "w2"}
	srv, addr := start(t, server.NewPush(nil), server.Config{Workers: 3})
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		conns[i] = c
	}
	command := func(i int, op string) {
		t.Helper()
		cmd := fmt.Sprintf(`{"op":%q,"topic":%q,"id":%d}`, op, topics[i%len(topics)], i)
		if err := conns[i].WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(i int, want string) {
		t.Helper()
		if _, p, err := conns[i].ReadMessage(); err != nil || string(p) != want {
			t.Fatalf("client %d: %q %v, want %q", i, p, err, want)
		}
	}
	for i := range conns {
		command(i, "subscribe")
	}
	for i := range conns {
		expect(i, fmt.Sprintf(`{"op":"ok","id":%d}`, i))
	}
	for _, tp := range topics {
		if _, err := srv.Hub().Publish(tp, []byte("to "+tp)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range conns {
		expect(i, "to "+topics[i%len(topics)])
		command(i, "unsubscribe")
	}
	for i := range conns {
		expect(i, fmt.Sprintf(`{"op":"ok","id":%d}`, i))
	}
	for _, tp := range topics {
		if _, err := srv.Hub().Publish(tp, []byte("after unsubscribe")); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Hub().Broadcast([]byte("marker")); err != nil {
		t.Fatal(err)
	}
	for i := range conns {
		expect(i, "marker") // nothing of the topics came first
	}
}
