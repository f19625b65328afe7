package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/internal/nodetest"
)

// wsClient reads an envelope WebSocket client into r until it closes.
func wsClient(c *websocket.Conn, r *recorder) {
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		r.take(p)
	}
}

// TestClusterFanout: 3 nodes and one NATS server; 3,000 clients spread
// over the nodes, on WebSocket, SSE and long-polling (kind), and 30
// Socket.IO clients (npm socket.io-client, sio-cluster.mjs) on WebSocket,
// polling and polling upgraded, over 10 topics; 500 publications made
// concurrently on random nodes, half through the API and half through
// Hub.Publish. Every client receives exactly its topic's publications, in
// offset order, none twice, with the offsets the publishers were given
// (so the same offsets on every node). Then a Socket.IO client publishes
// with the publish event on one node, is acked, and a Socket.IO client
// of another node receives it.
func TestClusterFanout(t *testing.T) {
	clients := 3000
	if raceEnabled {
		clients = 600
	}
	const (
		topics     = 10
		pubs       = 500
		publishers = 5
	)
	ns := natstest.Start(t)
	nodes := []*node{
		startNode(t, ns.URL(), "a", nil),
		startNode(t, ns.URL(), "b", nil),
		startNode(t, ns.URL(), "c", nil),
	}
	hc := httpClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	recs := make([]*recorder, clients)
	for i := range recs {
		r := newRecorder()
		recs[i] = r
		n := nodes[i%3]
		topic := fmt.Sprintf("t%d", i%topics)
		switch kind(i) {
		case 0:
			c := dialWS(t, n.addr, q("topic", topic))
			wg.Add(1)
			go func() { defer wg.Done(); wsClient(c, r) }()
		case 1:
			wg.Add(1)
			go func() { defer wg.Done(); sseClient(ctx, t, hc, "http://"+n.addr+"/sse?topic="+topic, r) }()
		case 2:
			wg.Add(1)
			go func() { defer wg.Done(); pollClient(ctx, t, hc, "http://"+n.addr, "topic="+topic, r) }()
		}
	}
	// Socket.IO clients (the npm socket.io-client) too: sioClients over
	// the nodes, the topics and Engine.IO's transports.
	type sioClient struct {
		URL       string `json:"url"`
		Transport string `json:"transport"`
		Room      string `json:"room"`
	}
	var sio []sioClient
	for i := range sioClients {
		n := nodes[i%3]
		sio = append(sio, sioClient{"http://" + n.addr, [...]string{"websocket", "polling", "upgrade"}[(i/3)%3], fmt.Sprintf("t%d", i%topics)})
	}
	plan, _ := json.Marshal(map[string]any{"clients": sio, "publisher": "http://" + nodes[0].addr, "listener": "http://" + nodes[2].addr})
	sioConv := nodetest.Converse(t, "..", "sio-cluster.mjs", string(plan))
	t.Logf("%s clients started", time.Now().Format("15:04:05.000"))
	deadline := time.After(60 * time.Second) // a hang guard
	for i, r := range recs {
		select {
		case <-r.ready:
		case <-deadline:
			t.Fatalf("client %d (%s) not subscribed", i, kindName(i))
		}
		if kindName(i) != "poll" && r.epoch != nodes[0].broker.Epoch() { // a poll's epoch is in its cursor
			t.Fatalf("client %d subscribed in epoch %q, want the cluster's %q", i, r.epoch, nodes[0].broker.Epoch())
		}
	}

	sioConv.Until(t, "subscribed")
	t.Logf("%s clients subscribed", time.Now().Format("15:04:05.000"))
	var mu sync.Mutex
	byTopic := map[string][]uint64{}
	bodyOf := map[uint64]string{}
	var pw sync.WaitGroup
	for w := range publishers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for k := range pubs / publishers {
				n := nodes[rand.IntN(len(nodes))]
				topic := fmt.Sprintf("t%d", rand.IntN(topics))
				body := fmt.Sprintf("p%d-%d", w, k)
				var off uint64
				var err error
				if k%2 == 0 {
					off, err = publishAPI(hc, n.api, topic, body)
				} else {
					off, err = n.srv.Hub().Publish(topic, []byte(body))
				}
				if err != nil {
					t.Errorf("publish on %s: %v", n.id, err)
					return
				}
				mu.Lock()
				byTopic[topic] = append(byTopic[topic], off)
				bodyOf[off] = body
				mu.Unlock()
			}
		}()
	}
	pw.Wait()
	t.Logf("%s published", time.Now().Format("15:04:05.000"))
	if t.Failed() {
		t.FailNow()
	}
	expect := map[string][]string{}
	for topic, offs := range byTopic {
		slices.Sort(offs)
		for _, off := range offs {
			expect[topic] = append(expect[topic], bodyOf[off])
		}
	}
	sioConv.Say(t, map[string]any{"ev": "published", "expect": expect})
	for i, r := range recs {
		want := byTopic[fmt.Sprintf("t%d", i%topics)]
		waitFor(t, fmt.Sprintf("client %d (%s)", i, kindName(i)), func() bool { return r.count() >= len(want) })
		r.mu.Lock()
		got := slices.Clone(r.offsets)
		bodies := slices.Clone(r.bodies)
		r.mu.Unlock()
		if !slices.Equal(got, want) {
			t.Fatalf("client %d (%s on node %s) got offsets %v, want %v", i, kindName(i), nodes[i%3].id, got, want)
		}
		for k, off := range got {
			if bodies[k] != bodyOf[off] {
				t.Fatalf("client %d: offset %d carried %q, want %q", i, off, bodies[k], bodyOf[off])
			}
		}
	}
	t.Logf("socket.io: %v", sioConv.Until(t, "done"))
}

// sioClients is how many Socket.IO clients TestClusterFanout adds.
const sioClients = 30

// kind spreads the clients over the transports, each on every node: 7 in
// 15 on WebSocket, 7 on SSE, 1 long-polling (a long-poll costs a request
// per publication, which on this shared 2-core machine dominates the run).
func kind(i int) int {
	switch k := (i / 3) % 15; {
	case k == 14:
		return 2
	default:
		return k % 2
	}
}

func kindName(i int) string { return [...]string{"websocket", "sse", "poll"}[kind(i)] }
