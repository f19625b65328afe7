package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/c1mhq/c1m/socketio"
)

// node is one in-process c1m node of a test cluster.
type node struct {
	id     string
	srv    *server.Server
	broker *broker.Broker
	kept   *broker.KeptStore
	addr   string // client listener
	api    string // base URL of its backend API
}

var testHistory = session.HistoryConfig{Size: 1000, TTL: time.Minute}

// startNode starts a node linked to the NATS at url, stopped at the end of
// the test.
func startNode(t testing.TB, url, id string, cfg *broker.Config) *node {
	t.Helper()
	return startNodeWith(t, url, id, cfg, nodeOptions{})
}

// nodeOptions are what startNodeWith sets apart from startNode.
type nodeOptions struct {
	window  time.Duration // Socket.IO recovery's; 0: testHistory.TTL
	workers int           // server.Config.Workers
}

// startNodeWith is startNode with opts.
func startNodeWith(t testing.TB, url, id string, cfg *broker.Config, opts nodeOptions) *node {
	t.Helper()
	window := opts.window
	if window == 0 {
		window = testHistory.TTL
	}
	// Clients name their user in the query (user=U) so that per-user sends
	// can be tested without tokens.
	push := server.NewPush(&server.PushConfig{ClientPublish: true, Auth: func(r *server.Request) error {
		if u := r.Query().Get("user"); u != "" {
			r.SetUser(u)
		}
		return nil
	}})
	// Socket.IO as the binary serves it: push events, client publish,
	// connection state recovery over the topics' history.
	sio := socketio.New(&socketio.Config{Recovery: &socketio.RecoveryConfig{Window: window}})
	socketio.ServePush(sio.Of("/"), &socketio.PushConfig{ClientPublish: true})
	srv := server.New(push, &server.Config{
		Addr: "127.0.0.1:0", Loops: 2, History: testHistory, Workers: opts.workers,
		Protocols: []string{codec.EnvelopeProtocol},
		Engine:    sio.EngineConfig(nil),
	})
	sio.Attach(srv.Hub())
	bc := broker.Config{}
	if cfg != nil {
		bc = *cfg
	}
	bc.URL, bc.NodeID, bc.History = url, id, testHistory
	if bc.PublishTimeout == 0 {
		// The machine is shared with other builds: a publication waits
		// longer than in production before it counts as failed.
		bc.PublishTimeout = 15 * time.Second
	}
	b, err := broker.Start((*session.Hub)(srv.Hub()), &bc) // the bus drives the machinery
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	kept, err := b.KeptStore(sio.RecordTTL())
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	stopRefresh := sio.UseStore(kept, id)
	if err := srv.Start(); err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	api := httptest.NewServer(httpapi.New(srv, &httpapi.Config{Cluster: b, NodeID: id}))
	t.Cleanup(func() {
		api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		stopRefresh()
		b.Close()
	})
	return &node{id: id, srv: srv, broker: b, kept: kept, addr: srv.Addr().String(), api: api.URL}
}

// envelope is a publication as an envelope client sees it.
type envelope struct {
	Op     string `json:"op"`
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
	Data   string `json:"data"`
}

// dialWS opens an envelope WebSocket client on addr with the query q.
func dialWS(t testing.TB, addr, q string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{codec.EnvelopeProtocol}, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+addr+"/ws?"+q, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readEnvelope reads the next object of an envelope client, failing after
// a generous deadline (a hang guard, not a timing assertion).
func readEnvelope(t testing.TB, c *websocket.Conn) envelope {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var e envelope
	if err := json.Unmarshal(p, &e); err != nil {
		t.Fatalf("read %q: %v", p, err)
	}
	return e
}

// nextPublication skips control objects (subscribed) and returns the next
// publication.
func nextPublication(t testing.TB, c *websocket.Conn) envelope {
	t.Helper()
	for {
		if e := readEnvelope(t, c); e.Op == "" {
			return e
		}
	}
}

func q(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "%s=%s", kv[i], kv[i+1])
	}
	return b.String()
}
