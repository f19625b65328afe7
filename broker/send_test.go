package broker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/natstest"
)

// sseStream is an SSE client whose objects arrive on a channel.
type sseStream struct {
	sid     string
	objects chan map[string]any
}

// openStream opens an SSE stream on addr and returns it once its open
// object named its session id.
func openStream(ctx context.Context, t *testing.T, hc *http.Client, addr string) *sseStream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/sse", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("sse on %s: %v", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sse on %s: %s", addr, resp.Status)
	}
	s := &sseStream{objects: make(chan map[string]any, 64)}
	go func() {
		defer resp.Body.Close()
		defer close(s.objects)
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: ")
			var o map[string]any
			if ok && json.Unmarshal([]byte(data), &o) == nil {
				s.objects <- o
			}
		}
	}()
	o := s.next(t, func(o map[string]any) bool { return o["op"] == "open" })
	s.sid, _ = o["sid"].(string)
	if s.sid == "" {
		t.Fatalf("open object without sid: %v", o)
	}
	return s
}

// next returns the stream's next object that match accepts, failing after
// a generous deadline (a hang guard).
func (s *sseStream) next(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case o, ok := <-s.objects:
			if !ok {
				t.Fatal("stream ended")
			}
			if match(o) {
				return o
			}
		case <-deadline:
			t.Fatal("timed out waiting for an object on the stream")
		}
	}
}

// postSend posts body to /send?sid=sid on addr and returns the status
// and the Retry-After header.
func postSend(t *testing.T, hc *http.Client, addr, sid, body string) (int, string) {
	t.Helper()
	resp, err := hc.Post("http://"+addr+"/send?sid="+sid, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("send on %s: %v", addr, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestClusterSendForward: three nodes; a stream's POST /send?sid= lands
// on any of them (as it does behind a shared port or a proxy that does
// not stick) and reaches the stream's session on the node that holds it,
// with the answers of a single node: 202 once the session has the
// command (whose effect shows on the stream), 404 for a wrong secret or
// an unknown session; and 503 with Retry-After when the node cannot reach
// the cluster to look.
func TestClusterSendForward(t *testing.T) {
	ns := natstest.Start(t)
	nodes := []*node{
		startNode(t, ns.URL(), "a", nil),
		startNode(t, ns.URL(), "b", nil),
		startNode(t, ns.URL(), "c", nil),
	}
	hc := httpClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	streams := make([]*sseStream, len(nodes))
	for i, n := range nodes {
		streams[i] = openStream(ctx, t, hc, n.addr)
	}
	for i, s := range streams {
		for j, n := range nodes {
			topic := fmt.Sprintf("f%d-%d", i, j)
			cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":%d}`, topic, 10*i+j)
			if status, _ := postSend(t, hc, n.addr, s.sid, cmd); status != http.StatusAccepted {
				t.Fatalf("send to node %s's stream through node %s: %d, want 202", nodes[i].id, n.id, status)
			}
			s.next(t, func(o map[string]any) bool { return o["op"] == "subscribed" && o["topic"] == topic })
			// The subscription is the session's: a publication made on
			// a third node reaches the stream.
			body := "to-" + topic
			if _, err := publishAPI(hc, nodes[(i+j+1)%3].api, topic, body); err != nil {
				t.Fatal(err)
			}
			s.next(t, func(o map[string]any) bool { return o["topic"] == topic && o["data"] == body })
		}
	}

	// A poll client's one-off /send (no sid) publishes; in a cluster its
	// reply, the answer's body, waits for the bus.
	for i, n := range nodes {
		body := fmt.Sprintf("one-off-%d", i)
		cmd := fmt.Sprintf(`{"op":"publish","topic":"f0-0","data":%q,"id":%d}`, body, 100+i)
		resp, err := hc.Post("http://"+n.addr+"/send", "application/json", strings.NewReader(cmd))
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`{"op":"ok","id":%d}`, 100+i); resp.StatusCode != http.StatusOK || strings.TrimSpace(string(reply)) != want {
			t.Fatalf("one-off publish on %s: %s %q, want 200 %s", n.id, resp.Status, reply, want)
		}
		streams[0].next(t, func(o map[string]any) bool { return o["topic"] == "f0-0" && o["data"] == body })
	}

	id, _, _ := strings.Cut(streams[0].sid, ".")
	cases := []struct {
		name, sid string
		node      *node
	}{
		{"wrong secret, on another node", id + ".2", nodes[1]},
		{"wrong secret, on the stream's node", id + ".2", nodes[0]},
		{"unknown session", "zzzzzzzz.1", nodes[2]},
	}
	for _, tc := range cases {
		if status, _ := postSend(t, hc, tc.node.addr, tc.sid, `{"op":"subscribe","topic":"never"}`); status != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", tc.name, status)
		}
	}

	ns.Stop()
	waitFor(t, "node b to see NATS gone", func() bool { return nodes[1].broker.Ready() != nil })
	status, retry := postSend(t, hc, nodes[1].addr, streams[0].sid, `{"op":"subscribe","topic":"later"}`)
	if status != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("send through a node cut off from NATS: %d (Retry-After %q), want 503 with Retry-After", status, retry)
	}
	// The stream's own node still takes it.
	if status, _ := postSend(t, hc, nodes[0].addr, streams[0].sid, `{"op":"subscribe","topic":"later"}`); status != http.StatusAccepted {
		t.Fatalf("send on the stream's node without NATS: %d, want 202", status)
	}
}
