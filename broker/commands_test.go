package broker_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/internal/natstest"
)

// commandPublisher is an envelope WebSocket client that publishes with
// the publish command, up to window commands awaiting their reply at a
// time, and records each command's reply.
type commandPublisher struct {
	c      *websocket.Conn
	window chan struct{}

	mu      sync.Mutex
	sent    int
	ok      []int          // ids answered ok
	failed  int            // ids answered "publish failed"
	replies map[int]string // id -> reply op, to catch a second reply
	twice   []int
}

func (p *commandPublisher) read(t *testing.T) {
	for {
		_, raw, err := p.c.ReadMessage()
		if err != nil {
			return
		}
		var r struct {
			Op    string `json:"op"`
			ID    *int   `json:"id"`
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &r) != nil || r.ID == nil {
			continue
		}
		p.mu.Lock()
		if _, seen := p.replies[*r.ID]; seen {
			p.twice = append(p.twice, *r.ID)
		}
		p.replies[*r.ID] = r.Op
		switch {
		case r.Op == "ok":
			p.ok = append(p.ok, *r.ID)
		case r.Op == "error" && r.Error == "publish failed":
			p.failed++
		default:
			t.Errorf("command %d: unexpected reply %s", *r.ID, raw)
		}
		p.mu.Unlock()
		<-p.window
	}
}

// publish sends publish commands to topic until stop closes.
func (p *commandPublisher) publish(t *testing.T, topic string, stop <-chan struct{}) {
	for id := 0; ; id++ {
		select {
		case <-stop:
			return
		case p.window <- struct{}{}:
		}
		cmd := fmt.Sprintf(`{"op":"publish","topic":%q,"data":"%d","id":%d}`, topic, id, id)
		if err := p.c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			t.Errorf("publish command %d: %v", id, err)
			return
		}
		p.mu.Lock()
		p.sent++
		p.mu.Unlock()
	}
}

func (p *commandPublisher) counts() (sent, ok, failed, answered int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, len(p.ok), p.failed, len(p.replies)
}

// TestClusterCommandPublishRestart: a WebSocket client publishes with
// the publish command on node a, many commands in flight, while NATS
// stops and comes back. Every command gets exactly one reply; a command
// answered ok was delivered to the topic's clients on both nodes; and
// commands made while NATS was away (or whose publication NATS lost on
// the way) are answered "publish failed" rather than ok.
func TestClusterCommandPublishRestart(t *testing.T) {
	ns := natstest.Start(t)
	nodes := []*node{startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)}
	var recs []*recorder
	for _, n := range nodes {
		r := newRecorder()
		c := dialWS(t, n.addr, q("topic", "cmd"))
		go wsClient(c, r)
		<-r.ready
		recs = append(recs, r)
	}
	p := &commandPublisher{c: dialWS(t, nodes[0].addr, ""), window: make(chan struct{}, 64), replies: map[int]string{}}
	go p.read(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); p.publish(t, "cmd", stop) }()

	waitFor(t, "publications before the restart", func() bool { _, ok, _, _ := p.counts(); return ok >= 200 })
	ns.Stop()
	waitFor(t, "a command refused while NATS is down", func() bool { _, _, failed, _ := p.counts(); return failed > 0 })
	ns.Restart()
	_, okBefore, _, _ := p.counts()
	waitFor(t, "publications after the restart", func() bool { _, ok, _, _ := p.counts(); return ok >= okBefore+200 })
	close(stop)
	<-done
	waitFor(t, "a reply to every command", func() bool { sent, _, _, answered := p.counts(); return answered == sent })

	p.mu.Lock()
	okIDs := slices.Clone(p.ok)
	twice := slices.Clone(p.twice)
	sent, failed := p.sent, p.failed
	p.mu.Unlock()
	if len(twice) > 0 {
		t.Fatalf("commands answered twice: %v", twice)
	}
	for i, r := range recs {
		deadline := time.Now().Add(60 * time.Second)
		for _, id := range okIDs {
			body := strconv.Itoa(id)
			waitUntil(t, deadline, fmt.Sprintf("client on %s to receive command %d's publication (answered ok)", nodes[i].id, id), func() bool {
				r.mu.Lock()
				defer r.mu.Unlock()
				return slices.Contains(r.bodies, body)
			})
		}
	}
	t.Logf("%d publish commands: %d answered ok, all delivered on both nodes; %d answered publish failed", sent, len(okIDs), failed)
}
