package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/internal/nodetest"
)

// TestClusterSocketIORecoveryNATSDown: the npm socket.io-client's
// connection to node a drops while NATS is stopped, and it comes back with
// its pid and offset, to node b (other) or to node a (own). The store
// cannot be asked: the CONNECT is answered, within a generous bound, as a
// normal unrecovered connect (a new id and pid), and neither node exits.
// Once NATS is back, the socket joins a room (filing its record), drops
// and moves to the other node, where it recovers with that room and the
// publication it missed.
func TestClusterSocketIORecoveryNATSDown(t *testing.T) {
	t.Parallel()
	for _, back := range []string{"other", "own"} {
		t.Run(back, func(t *testing.T) {
			t.Parallel()
			ns, a, b := twoNodes(t)
			first, then := b, a
			if back == "own" {
				first, then = a, b
			}
			c := steer(t)
			old := c.filed(t, a, ns.URL())
			b.post(t, "/api/publish?topic=r1", "m1")
			c.expect(t, "m1")

			ns.Stop()
			for _, in := range []*instance{a, b} {
				waitReady(t, in, http.StatusServiceUnavailable)
			}
			if code := postStatus(t, a, "/api/publish?topic=r1", "down"); code != http.StatusServiceUnavailable {
				t.Fatalf("publish with NATS down: %d, want 503", code)
			}
			c.drop(t)
			// Within 10 s, a hang guard: the store's lookup gives up after 2 s.
			now := c.connectWithin(t, first, false, 10*time.Second)
			if now.id == old.id || now.pid == old.pid {
				t.Fatalf("connect with NATS down kept id %s pid %s: want a new socket", now.id, now.pid)
			}
			for _, in := range []*instance{a, b} {
				alive(t, in)
			}

			ns.Restart()
			for _, in := range []*instance{a, b} {
				waitReady(t, in, http.StatusOK)
			}
			c.join(t, "r2")
			waitRecord(t, ns.URL(), now.pid, `"rooms":["r2"]`)
			c.drop(t)
			first.post(t, "/api/publish?topic=r2", "m2")
			moved := c.connect(t, then, true)
			if moved.id != now.id {
				t.Fatalf("recovered as %s, was %s", moved.id, now.id)
			}
			c.expect(t, "m2")
			then.post(t, "/api/publish?topic=r2", "m3")
			c.expect(t, "m3")
			c.end(t)
		})
	}
}

// TestClusterSocketIORecoveryRestartedNode: node a is killed (SIGKILL)
// with the npm socket.io-client connected, so the record it filed stays
// marked as connected to a, and a comes back under the same -node-id
// before the client does. The client then reconnects to node b (other)
// or to the restarted a (restarted): the restarted process holds no such
// socket, so the client recovers there, once: the other node cannot also
// recover it.
func TestClusterSocketIORecoveryRestartedNode(t *testing.T) {
	t.Parallel()
	for _, back := range []string{"other", "restarted"} {
		t.Run(back, func(t *testing.T) {
			t.Parallel()
			ns, a, b := twoNodes(t)
			c := steer(t)
			s := c.filed(t, a, ns.URL())
			b.post(t, "/api/publish?topic=r1", "m1")
			c.expect(t, "m1")

			if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			c.drop(t) // the client sees the connection end
			<-a.exited
			a = startC1M(t, "-nats", ns.URL(), "-node-id", "a")
			if rec := getRecord(t, ns.URL(), s.pid); !strings.HasPrefix(rec, "ca\n") {
				t.Fatalf("record %q: want the killed node's, filed as connected to a", rec)
			}
			b.post(t, "/api/publish?topic=r1", "m2")
			to, elsewhere := b, a
			if back == "restarted" {
				to, elsewhere = a, b
			}
			got := c.connect(t, to, true)
			if got.id != s.id {
				t.Fatalf("recovered as %s, was %s", got.id, s.id)
			}
			c.expect(t, "m2")
			auth, _ := json.Marshal(map[string]any{"pid": got.pid, "offset": got.offset})
			raw := elsewhere.sioDial(t, "/socket.io/", string(auth))
			if answer := sioRead(t, raw); !strings.HasPrefix(answer, `40{"sid":"`) || strings.Contains(answer, s.id) || strings.Contains(answer, s.pid) {
				t.Fatalf("the other node answers %q to the same pid: want a new socket", answer)
			}
			to.post(t, "/api/publish?topic=r1", "m3")
			c.expect(t, "m3")
			c.end(t)
		})
	}
}

// TestClusterSocketIORecoveryRefilesAfterNATS: the npm socket.io-client
// on node a joins room r2 while NATS is stopped, so the record's write
// fails. Once NATS is back, node a's next refresh of the record (every
// half window: a 10 s window here) files the socket's state now, both
// rooms, and the client moving to node b recovers with r2 too: the
// publication to r2 it missed, and later ones.
func TestClusterSocketIORecoveryRefilesAfterNATS(t *testing.T) {
	t.Parallel()
	ns, a, b := twoNodes(t, "-history-ttl", "10s")
	c := steer(t)
	s := c.filed(t, a, ns.URL())
	b.post(t, "/api/publish?topic=r1", "m1")
	c.expect(t, "m1")

	ns.Stop()
	waitReady(t, a, http.StatusServiceUnavailable)
	c.join(t, "r2")
	ns.Restart()
	for _, in := range []*instance{a, b} {
		waitReady(t, in, http.StatusOK)
	}
	// The socket is node a's only one: the next write it counts is the
	// refresh of its record. A refresh that fails (JetStream still
	// settling after the restart) is retried by the next one, every 5 s;
	// before the fix every refresh failed, refused by the stale record.
	before := keptStats(t, a, "a")
	if before.Failed == 0 {
		t.Fatalf("the join's write with NATS down is not counted as failed: %+v", before)
	}
	deadline := time.Now().Add(30 * time.Second) // a hang guard: a refresh comes every 5 s
	for {
		now := keptStats(t, a, "a")
		if now.Writes > before.Writes {
			if rec := getRecord(t, ns.URL(), s.pid); !strings.Contains(rec, `"rooms":["r1","r2"]`) {
				t.Fatalf("after NATS came back node a refreshed the record as %q (%+v then %+v): want rooms r1 and r2", rec, before, now)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful refresh of the record within 30 s of NATS coming back: %+v then %+v", before, now)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.drop(t)
	b.post(t, "/api/publish?topic=r2", "m2")
	b.post(t, "/api/publish?topic=r1", "m3")
	got := c.connect(t, b, true)
	if got.id != s.id {
		t.Fatalf("recovered as %s, was %s", got.id, s.id)
	}
	c.expect(t, "m2", "m3")
	b.post(t, "/api/publish?topic=r2", "m4")
	c.expect(t, "m4")
	c.end(t)
}

// steered is the npm socket.io-client of sio-steer.mjs.
type steered struct{ conv *nodetest.Conversation }

// twoNodes starts a NATS server and nodes a and b on it, each with the
// extra flags.
func twoNodes(t *testing.T, extra ...string) (ns *natstest.Server, a, b *instance) {
	t.Helper()
	ns = natstest.Start(t)
	a = startC1M(t, append([]string{"-nats", ns.URL(), "-node-id", "a"}, extra...)...)
	b = startC1M(t, append([]string{"-nats", ns.URL(), "-node-id", "b"}, extra...)...)
	return ns, a, b
}

// sioSocket is what the client says of its socket once connected.
type sioSocket struct{ id, pid, offset string }

func steer(t *testing.T) *steered {
	t.Helper()
	return &steered{nodetest.Converse(t, "../..", "sio-steer.mjs")}
}

// connect connects the client to in (its socket's pid and offset with it,
// after the first time) and fails unless it is recovered as wanted.
func (c *steered) connect(t *testing.T, in *instance, recovered bool) sioSocket {
	t.Helper()
	return c.connectWithin(t, in, recovered, 0)
}

// connectWithin is connect, failing unless the CONNECT is answered within
// d (0: the script's own deadline).
func (c *steered) connectWithin(t *testing.T, in *instance, recovered bool, d time.Duration) sioSocket {
	t.Helper()
	c.conv.Say(t, map[string]any{"ev": "connect", "url": in.clientURL(), "within": d.Milliseconds()})
	m := c.conv.Until(t, "connected")
	if m["recovered"] != recovered {
		t.Fatalf("connected %v: want recovered %v", m, recovered)
	}
	s := sioSocket{}
	s.id, _ = m["id"].(string)
	s.pid, _ = m["pid"].(string)
	s.offset, _ = m["offset"].(string)
	if s.pid == "" {
		t.Fatalf("connected %v: no pid, recovery is off", m)
	}
	return s
}

// filed connects the client to in, unrecovered, joins it to room r1, and
// waits until NATS at url holds its record with that room.
func (c *steered) filed(t *testing.T, in *instance, url string) sioSocket {
	t.Helper()
	s := c.connect(t, in, false)
	c.join(t, "r1")
	waitRecord(t, url, s.pid, `"rooms":["r1"]`)
	return s
}

func (c *steered) join(t *testing.T, room string) {
	t.Helper()
	c.conv.Say(t, map[string]any{"ev": "join", "room": room})
	if m := c.conv.Until(t, "joined"); m["err"] != nil {
		t.Fatalf("join %s: %v", room, m["err"])
	}
}

func (c *steered) drop(t *testing.T) {
	t.Helper()
	c.conv.Say(t, map[string]any{"ev": "drop"})
	c.conv.Until(t, "dropped")
}

// expect waits until the client has received exactly msgs since the last
// expect, in order.
func (c *steered) expect(t *testing.T, msgs ...string) {
	t.Helper()
	c.conv.Say(t, map[string]any{"ev": "expect", "messages": msgs})
	c.conv.Until(t, "received")
}

func (c *steered) end(t *testing.T) {
	t.Helper()
	c.conv.Say(t, map[string]any{"ev": "end"})
	c.conv.Until(t, "done")
}

// waitReady waits until in's /readyz answers code.
func waitReady(t *testing.T, in *instance, code int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // a hang guard
	got := 0
	for time.Now().Before(deadline) {
		if resp, err := http.Get(in.api + "/readyz"); err == nil {
			got = resp.StatusCode
			resp.Body.Close()
			if got == code {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("readyz %d, want %d", got, code)
}

// postStatus posts body to in's API at path and returns the status.
func postStatus(t *testing.T, in *instance, path, body string) int {
	t.Helper()
	resp, err := http.Post(in.api+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// alive fails the test if in exited.
func alive(t *testing.T, in *instance) {
	t.Helper()
	select {
	case err := <-in.exited:
		t.Fatalf("node exited: %v; %v", err, in.notices())
	default:
	}
}

// getRecord returns the record filed under pid in the cluster's Socket.IO
// recovery bucket, as filed (flag, node, record), "" for none.
func getRecord(t *testing.T, url, pid string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a hang guard
	defer cancel()
	return string(readRecord(ctx, recoveryJS(t, url), pid))
}

// keptStats returns node's counters of its recovery records, from in's
// cluster view.
func keptStats(t *testing.T, in *instance, node string) broker.KeptStats {
	t.Helper()
	resp, err := http.Get(in.api + "/api/stats?scope=cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Nodes []broker.NodeStats }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == node && n.Kept != nil {
			return *n.Kept
		}
	}
	t.Fatalf("no recovery counters of node %s in %+v", node, st)
	return broker.KeptStats{}
}
