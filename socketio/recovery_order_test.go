package socketio

import (
	"fmt"
	"testing"

	"github.com/c1mhq/c1m/session"
)

// TestRecoveryEveryRoom: what was in flight on the dead connection, in
// every room and not only the room of the client's last offset, is
// replayed on recovery, with what was published meanwhile, in publish
// order, none lost and none repeated; then, when that connection dies
// too in the middle of the replay, the next recovery goes on exactly from
// the last replayed publication the client got.
func TestRecoveryEveryRoom(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 100})
	c, sid, pid := connectInRooms(t, r, "news", "sport")
	publish := func(name string) {
		t.Helper()
		if _, err := r.hub.Publish(name[:len(name)-2], []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	publish("news-1")
	offset := lastArg(t, c.expectPrefix(`2["message","news-1",`))
	// The client got news-1; these were written to its connection but
	// never reached it.
	for _, m := range []string{"sport-1", "news-2", "sport-2"} {
		publish(m)
		c.expectPrefix(fmt.Sprintf(`2["message",%q,`, m))
	}
	c.drop()
	publish("sport-3")
	publish("news-3")

	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	var replayed []string
	for _, m := range []string{"sport-1", "news-2", "sport-2", "sport-3", "news-3"} {
		replayed = append(replayed, lastArg(t, c2.expectPrefix(fmt.Sprintf(`2["message",%q,`, m))))
	}
	if sid2, pid2 := handshakeIDs(t, c2.read(), "0"); sid2 != sid || pid2 != pid {
		t.Fatalf("recovered as %s/%s, want %s/%s", sid2, pid2, sid, pid)
	}
	publish("news-4")
	c2.expectPrefix(`2["message","news-4",`)
	c2.quiet()
	// This connection dies too: its client had the replay up to news-2.
	c2.drop()
	publish("sport-4")

	c3 := r.open()
	c3.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, replayed[1]))
	for _, m := range []string{"sport-2", "sport-3", "news-3", "news-4", "sport-4"} {
		c3.expectPrefix(fmt.Sprintf(`2["message",%q,`, m))
	}
	if _, pid3 := handshakeIDs(t, c3.read(), "0"); pid3 != pid {
		t.Fatal("not recovered the second time")
	}
	c3.quiet()
}

// TestRecoveryHistoryEdge: a client whose last publication history has
// just dropped still recovers when history holds everything after it;
// one more publication later, it does not.
func TestRecoveryHistoryEdge(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 2})
	c, _, pid := connectInRooms(t, r, "news", "sport")
	_, _ = r.hub.Publish("news", []byte("n1"))
	offset := lastArg(t, c.expectPrefix(`2["message","n1",`))
	c.drop()
	_, _ = r.hub.Publish("news", []byte("n2"))
	_, _ = r.hub.Publish("news", []byte("n3")) // history drops n1
	_, _ = r.hub.Publish("sport", []byte("s1"))
	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	c2.expectPrefix(`2["message","n2",`)
	c2.expectPrefix(`2["message","n3",`)
	c2.expectPrefix(`2["message","s1",`)
	if _, pid2 := handshakeIDs(t, c2.read(), "0"); pid2 != pid {
		t.Fatal("not recovered with history covering the gap")
	}
	c2.drop()
	for _, m := range []string{"n4", "n5", "n6"} { // history drops n3
		_, _ = r.hub.Publish("news", []byte(m))
	}
	c3 := r.open()
	c3.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, offset))
	c3.expectPrefix(`2["message","s1",`) // sport's history still covers it
	if _, pid3 := handshakeIDs(t, c3.read(), "0"); pid3 == pid {
		t.Fatal("recovered across a gap history does not cover")
	}
}

// TestRecoveryNoOffset: a client that got no publication of its rooms
// reconnects with its pid and no offset: it gets every publication of its
// rooms since it connected, the ones in flight on its dead connection
// included.
func TestRecoveryNoOffset(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 100})
	_, _ = r.hub.Publish("news", []byte("before"))
	c, _, pid := connectInRooms(t, r, "news", "sport")
	for _, m := range []string{"n1", "s1"} {
		_, _ = r.hub.Publish(map[byte]string{'n': "news", 's': "sport"}[m[0]], []byte(m))
		c.expectPrefix(fmt.Sprintf(`2["message",%q,`, m)) // in flight: the client never got it
	}
	c.drop()
	_, _ = r.hub.Publish("news", []byte("n2"))
	c2 := r.open()
	c2.send(fmt.Sprintf(`0{"pid":%q}`, pid))
	for _, m := range []string{"n1", "s1", "n2"} {
		c2.expectPrefix(fmt.Sprintf(`2["message",%q,`, m))
	}
	if _, pid2 := handshakeIDs(t, c2.read(), "0"); pid2 != pid {
		t.Fatal("not recovered")
	}
	c2.quiet()
}
