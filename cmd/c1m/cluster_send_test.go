package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/natstest"
)

// TestClusterSharedPortSend: three nodes on one port (-reuse-port) and
// one NATS server, as scripts/cluster.sh runs them. A client opens an SSE
// stream on the port, then posts commands to its session with
// POST /send?sid=, each on a new connection, which the kernel hands to
// any of the nodes: every one is answered 202 and takes effect on the
// stream, wherever it landed. With 3 nodes, the odds that 30 new
// connections all reach the stream's node are 3^-30: most of these sends
// are forwarded through NATS.
func TestClusterSharedPortSend(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	port := reservePort(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	for _, id := range []string{"a", "b", "c"} {
		startC1M(t, "-reuse-port", "-listen", listen, "-loops", "2", "-demo=false", "-nats", ns.URL(), "-node-id", id)
	}
	base := "http://" + listen
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang guard
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	objects := make(chan map[string]any, 64)
	go func() {
		defer close(objects)
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
				var o map[string]any
				if json.Unmarshal([]byte(data), &o) == nil {
					objects <- o
				}
			}
		}
	}()
	next := func(match func(map[string]any) bool) map[string]any {
		t.Helper()
		for o := range objects {
			if match(o) {
				return o
			}
		}
		t.Fatal("stream ended")
		return nil
	}
	sid, _ := next(func(o map[string]any) bool { return o["op"] == "open" })["sid"].(string)
	if sid == "" {
		t.Fatal("open object without sid")
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // a new connection each
	for i := range 30 {
		topic := fmt.Sprintf("shared-%d", i)
		resp, err := fresh.Post(base+"/send?sid="+sid, "application/json", strings.NewReader(fmt.Sprintf(`{"op":"subscribe","topic":%q}`, topic)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("send %d: %s %s, want 202 on whichever node it reached", i, resp.Status, body)
		}
		next(func(o map[string]any) bool { return o["op"] == "subscribed" && o["topic"] == topic })
	}
}

// TestClusterSharedPortSocketIO: a WebSocket-only socket.io-client (its
// session is its one connection) works on three nodes sharing a port,
// with publications through another node's API (sio-c1m.mjs rooms). A
// polling client would need a sticky proxy (docs/cluster.md).
func TestClusterSharedPortSocketIO(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	port := reservePort(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	var nodes []*instance
	for _, id := range []string{"a", "b", "c"} {
		nodes = append(nodes, startC1M(t, "-reuse-port", "-listen", listen, "-loops", "2", "-demo=false", "-nats", ns.URL(), "-node-id", id))
	}
	for _, n := range nodes { // publications through each node's API
		t.Logf("%s", runNode(t, "sio-c1m.mjs", "http://"+listen, n.api, "rooms", "websocket"))
	}
}
