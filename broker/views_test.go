package broker_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/session"
)

// readData returns the data of the next message of c that is not a
// control object.
func readData(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	for {
		e := readEnvelope(t, c)
		if e.Op == "" || e.Op == "message" {
			return e.Data
		}
	}
}

// TestClusterSendToUser: a user with a session on each node gets a
// per-user send made on any node on all of them, once; a broadcast made on
// one node reaches every session of every node.
func TestClusterSendToUser(t *testing.T) {
	ns := natstest.Start(t)
	nodes := []*node{startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil), startNode(t, ns.URL(), "c", nil)}
	var alice, bob []*websocket.Conn
	for _, n := range nodes {
		alice = append(alice, dialWS(t, n.addr, q("user", "alice")))
		bob = append(bob, dialWS(t, n.addr, q("user", "bob")))
	}
	// The sessions are subscribed to their user before the upgrade is
	// answered; the presence count says so on every node.
	for i, n := range nodes {
		if err := n.srv.Hub().SendToUser("alice", fmt.Appendf(nil, "to alice from %s", n.id)); err != nil {
			t.Fatal(err)
		}
		for k, c := range alice {
			if got, want := readData(t, c), "to alice from "+n.id; got != want {
				t.Fatalf("send %d: alice's session on %s got %q, want %q", i, nodes[k].id, got, want)
			}
		}
	}
	if err := nodes[1].srv.Hub().Broadcast([]byte("everyone")); err != nil {
		t.Fatal(err)
	}
	for k, c := range append(alice, bob...) {
		if got := readData(t, c); got != "everyone" {
			t.Fatalf("session %d got %q, want the broadcast (bob must not have alice's messages)", k, got)
		}
	}
}

// TestClusterSendToSession: Hub.SendTo on one node reaches a session that
// lives on another (its id from the SSE stream's open object); an id no
// node has is ErrNotFound.
func TestClusterSendToSession(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)
	hc := &http.Client{Timeout: 30 * time.Second} // a hang guard
	resp, err := hc.Get("http://" + a.addr + "/sse?topic=x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	next := func(event string) string {
		t.Helper()
		cur := ""
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("sse: %v", err)
			}
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "event: ") {
				cur = line[len("event: "):]
			}
			if strings.HasPrefix(line, "data: ") && (cur == event || event == "*") {
				return line[len("data: "):]
			}
		}
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(next("session")), &open); err != nil {
		t.Fatal(err)
	}
	// The sid is the session id and a secret, both in base 36.
	idPart, _, _ := strings.Cut(open.Sid, ".")
	sid, err := strconv.ParseUint(idPart, 36, 64)
	if err != nil {
		t.Fatalf("sid %q: %v", open.Sid, err)
	}
	if err := b.srv.Hub().SendTo(sid, []byte("for you")); err != nil {
		t.Fatalf("SendTo from the other node: %v", err)
	}
	// A message sent to one session arrives as a publication of no topic.
	for got := next("*"); !strings.Contains(got, `"for you"`); got = next("*") {
		if !strings.Contains(got, `"op":"subscribed"`) {
			t.Fatalf("SSE event %s, want the message sent", got)
		}
	}
	if err := b.srv.Hub().SendTo(sid+1<<40, []byte("nobody")); err != session.ErrNotFound {
		t.Fatalf("SendTo an unknown id: %v, want ErrNotFound", err)
	}
}

// TestClusterViews: /api/stats?scope=cluster lists every node with its
// sessions, and /api/presence counts a topic's subscribers on all nodes.
func TestClusterViews(t *testing.T) {
	ns := natstest.Start(t)
	nodes := []*node{startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil), startNode(t, ns.URL(), "c", nil)}
	// a: 1 on news, b: 2, c: 0 (one on another topic).
	dialWS(t, nodes[0].addr, q("topic", "news"))
	dialWS(t, nodes[1].addr, q("topic", "news"))
	dialWS(t, nodes[1].addr, q("topic", "news"))
	dialWS(t, nodes[2].addr, q("topic", "sport"))
	getJSON := func(url string, v any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", url, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var p httpapi.Presence
	waitFor(t, "presence 3", func() bool {
		getJSON(nodes[2].api+"/api/presence?topic=news", &p)
		return p.Subscribers == 3
	})
	if len(p.Nodes) != 3 || p.Nodes[0].Subscribers != 1 || p.Nodes[1].Subscribers != 2 || p.Nodes[2].Subscribers != 0 {
		t.Fatalf("presence per node %+v, want a:1 b:2 c:0", p.Nodes)
	}
	var st httpapi.ClusterStats
	getJSON(nodes[0].api+"/api/stats?scope=cluster", &st)
	if len(st.Nodes) != 3 || st.Sessions != 4 {
		t.Fatalf("cluster stats %+v, want 3 nodes and 4 sessions", st)
	}
	for i, n := range st.Nodes {
		if want := nodes[i].id; n.Node != want || !n.Ready {
			t.Fatalf("node %d: %+v, want %s ready", i, n, want)
		}
	}
	if st.Nodes[1].Sessions != 2 {
		t.Fatalf("node b: %+v, want 2 sessions", st.Nodes[1])
	}
	var local httpapi.Stats
	getJSON(nodes[1].api+"/api/stats", &local)
	if local.Node != "b" {
		t.Fatalf("local stats name node %q, want b", local.Node)
	}
}
