package socketio

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/session"
)

// handshakeIDs decodes a CONNECT answer's sid and pid.
func handshakeIDs(t *testing.T, msg, prefix string) (sid, pid string) {
	t.Helper()
	var h struct{ SID, PID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, prefix)), &h); err != nil || h.SID == "" {
		t.Fatalf("handshake %q: %v", msg, err)
	}
	return h.SID, h.PID
}

// connectInRooms connects a new client to "/" and joins it to rooms, each
// by an acked join event; it returns the client and its socket's sid and
// pid.
func connectInRooms(t *testing.T, r *rig, rooms ...string) (c *conn, sid, pid string) {
	t.Helper()
	c = r.open()
	c.send("0")
	sid, pid = handshakeIDs(t, c.read(), "0")
	for i, room := range rooms {
		c.send(fmt.Sprintf(`2%d["join",%q]`, i+1, room))
		c.expect(fmt.Sprintf(`3%d[null]`, i+1))
	}
	return c, sid, pid
}

// lastArg returns the last argument of an event packet, a string.
func lastArg(t *testing.T, msg string) string {
	t.Helper()
	var args []json.RawMessage
	if err := json.Unmarshal([]byte(msg[strings.IndexByte(msg, '['):]), &args); err != nil {
		t.Fatalf("event %q: %v", msg, err)
	}
	var s string
	if err := json.Unmarshal(args[len(args)-1], &s); err != nil {
		t.Fatalf("last argument of %q is no string", msg)
	}
	return s
}

// TestRecovery drops a connection while publications go on, reconnects
// with the pid and the last offset, and checks that the socket gets its
// id, its rooms and exactly the publications it missed, before the CONNECT
// answer, then live ones.
func TestRecovery(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 100})
	c := r.open()
	c.send("0")
	sid, pid := handshakeIDs(t, c.read(), "0")
	if pid == "" {
		t.Fatal("no pid with recovery")
	}
	c.send(`21["join","news"]`)
	c.expect(`31[null]`)
	c.send(`22["join","sport"]`)
	c.expect(`32[null]`)
	publish := func(topic string, i int) {
		t.Helper()
		if _, err := r.hub.Publish(topic, fmt.Appendf(nil, "%s-%d", topic, i)); err != nil {
			t.Fatal(err)
		}
	}
	publish("news", 1)
	first := c.expectPrefix(`2["message","news-1",`)
	publish("news", 2)
	c.expectPrefix(`2["message","news-2",`)
	// The client got news-1 only: news-2 was in flight when the connection
	// dropped.
	offset := lastArg(t, first)
	c.drop()
	publish("news", 3)
	publish("sport", 1)

	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	c2.expectPrefix(`2["message","news-2",`)
	c2.expectPrefix(`2["message","news-3",`)
	c2.expectPrefix(`2["message","sport-1",`)
	sid2, pid2 := handshakeIDs(t, c2.read(), "0")
	if sid2 != sid || pid2 != pid {
		t.Fatalf("recovered as %s/%s, want %s/%s", sid2, pid2, sid, pid)
	}
	publish("sport", 2)
	c2.expectPrefix(`2["message","sport-2",`)
	c2.quiet()

	// The pid is spent: a second reconnect with it starts afresh.
	c3 := r.open()
	c3.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	sid3, pid3 := handshakeIDs(t, c3.read(), "0")
	if sid3 == sid || pid3 == pid {
		t.Fatal("a spent pid recovered")
	}
	c3.quiet()
}

// TestRecoveryGap: when history no longer holds what the client missed,
// the socket gets its rooms back but a new pid, which tells the client it
// did not recover.
func TestRecoveryGap(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 2})
	c, _, pid := connectInRooms(t, r, "news")
	_, _ = r.hub.Publish("news", []byte("1"))
	offset := lastArg(t, c.read())
	c.drop()
	for i := 2; i <= 5; i++ {
		_, _ = r.hub.Publish("news", []byte("x"))
	}
	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	_, pid2 := handshakeIDs(t, c2.read(), "0")
	if pid2 == pid {
		t.Fatal("recovered across a gap history does not cover")
	}
	_, _ = r.hub.Publish("news", []byte("live"))
	c2.expectPrefix(`2["message","live",`)
}

// TestKeptStoreBounds checks the store's count cap and window.
func TestKeptStoreBounds(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	ks := newKeptStore(time.Minute, 3)
	ks.now = func() time.Time { return now }
	for i := range 5 {
		ks.put(&keptSocket{pid: fmt.Sprint(i), nsp: "/"})
	}
	if n := ks.len(); n != 3 {
		t.Fatalf("kept %d, want 3", n)
	}
	if ks.take([]byte(`{"pid":"0"}`), "/") != nil {
		t.Fatal("the oldest was kept past the cap")
	}
	if ks.take([]byte(`{"pid":"4"}`), "/x") != nil {
		t.Fatal("taken from another namespace")
	}
	if ks.take([]byte(`{"pid":"4"}`), "/") == nil {
		t.Fatal("the newest was not kept")
	}
	now = now.Add(2 * time.Minute)
	if ks.take([]byte(`{"pid":"3"}`), "/") != nil {
		t.Fatal("taken after the window")
	}
	if n := ks.len(); n != 0 {
		t.Fatalf("kept %d after the window, want 0", n)
	}
}

// TestOffsetOnlyForRooms: with recovery, an event from a room's topic
// carries its offset; one sent to a user (an internal topic) or a
// broadcast does not.
func TestOffsetOnlyForRooms(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 10})
	c := r.open()
	c.send("0")
	c.read()
	c.send(`21["join","news"]`)
	c.expect(`31[null]`)
	r.loop.run(func() { c.s.SetUser("ann") })
	_, _ = r.hub.Publish("news", []byte("a"))
	c.expectPrefix(`2["message","a","`)
	_ = r.hub.SendToUser("ann", []byte("b"))
	c.expect(`2["message","b"]`)
	_ = r.hub.Broadcast([]byte("c"))
	c.expect(`2["message","c"]`)
}

// TestRecoveryUndelivered: a publication to another room that the hub
// had numbered but the session had not been given when its connection
// dropped is replayed on recovery.
func TestRecoveryUndelivered(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 100})
	c, _, pid := connectInRooms(t, r, "news", "sport")
	_, _ = r.hub.Publish("news", []byte("n1"))
	offset := lastArg(t, c.expectPrefix(`2["message","n1",`))
	// In one round of the loop: the publication waits in the shard's
	// inbox while the connection drops.
	r.loop.run(func() {
		_, _ = r.hub.Publish("sport", []byte("s1"))
		r.srv.OnClose(sessionOf(c), 1006, "")
		r.sh.Closed(c.s)
	})
	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	c2.expectPrefix(`2["message","s1",`)
	if _, pid2 := handshakeIDs(t, c2.read(), "0"); pid2 != pid {
		t.Fatal("not recovered")
	}
}
