package socketio

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/session"
)

// fakeStore is a RecoveryStore that records the writes and hands each
// Take to the test, which answers it when it likes.
type fakeStore struct {
	mu    sync.Mutex
	puts  []fakePut
	dels  []string
	takes chan fakeTake
}

type fakePut struct {
	pid       string
	rec       record
	connected bool
}

type fakeTake struct {
	pid  string
	done func([]byte, error)
}

func newFakeStore() *fakeStore { return &fakeStore{takes: make(chan fakeTake, 4)} }

func (f *fakeStore) Put(pid string, rec []byte, connected bool) {
	var r record
	_ = json.Unmarshal(rec, &r)
	f.mu.Lock()
	f.puts = append(f.puts, fakePut{pid, r, connected})
	f.mu.Unlock()
}

func (f *fakeStore) Delete(pid string) {
	f.mu.Lock()
	f.dels = append(f.dels, pid)
	f.mu.Unlock()
}

func (f *fakeStore) Take(pid string, done func([]byte, error)) { f.takes <- fakeTake{pid, done} }

// last returns the last record written.
func (f *fakeStore) last(t *testing.T) fakePut {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.puts) == 0 {
		t.Fatal("no record written")
	}
	return f.puts[len(f.puts)-1]
}

// take waits for the server's next Take.
func (f *fakeStore) take(t *testing.T) fakeTake {
	t.Helper()
	select {
	case tk := <-f.takes:
		return tk
	case <-time.After(20 * time.Second): // a hang guard
		t.Fatal("no Take")
		return fakeTake{}
	}
}

// TestStoreRecords: with a store, a socket's record is written at its
// CONNECT, at each join and leave (the rooms it is in), marked when its
// connection drops, and deleted when it leaves for good.
func TestStoreRecords(t *testing.T) {
	t.Parallel()
	srv := roomServer(&Config{Recovery: &RecoveryConfig{}})
	srv.Of("/").On("leave", func(s *Socket, a Args, ack *Ack) {
		room, _ := a.String(0)
		s.Leave(room)
		_ = ack.Send(nil)
	})
	st := newFakeStore()
	defer srv.UseStore(st, "n1")()
	r := newRig(t, srv, session.HistoryConfig{Size: 10})
	c, sid, pid := connectInRooms(t, r, "news", "sport")
	if p := st.last(t); p.pid != pid || p.rec.SID != sid || !p.connected || p.rec.Node != "n1" ||
		len(p.rec.Rooms) != 2 || p.rec.Rooms[1] != "sport" {
		t.Fatalf("record after two joins: %+v", p)
	}
	c.send(`23["leave","news"]`)
	c.expect(`33[null]`)
	if p := st.last(t); len(p.rec.Rooms) != 1 || p.rec.Rooms[0] != "sport" {
		t.Fatalf("record after leaving news: %+v", p)
	}
	c.drop()
	if p := st.last(t); p.connected || p.rec.Gone == 0 || len(p.rec.Rooms) != 1 {
		t.Fatalf("record after the drop: %+v", p)
	}
	c2, _, pid2 := connectInRooms(t, r)
	c2.send("1")
	c2.drop()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.dels) != 1 || st.dels[0] != pid2 {
		t.Fatalf("deletes %v, want the pid of the socket that left (%s)", st.dels, pid2)
	}
}

// TestStoreConnectWaits: a CONNECT with a pid is answered once the store
// answers its Take. Meanwhile another packet of the namespace is an
// invalid state (the client is closed, as by the reference server); a
// Take that fails gives a normal connect (a new socket, not recovered); a
// Take of the node's own socket recovers it.
func TestStoreConnectWaits(t *testing.T) {
	t.Parallel()
	srv := roomServer(&Config{Recovery: &RecoveryConfig{}})
	st := newFakeStore()
	defer srv.UseStore(st, "n1")()
	r := newRig(t, srv, session.HistoryConfig{Size: 10})
	old, sid, pid := connectInRooms(t, r, "news")
	old.drop()
	auth, _ := json.Marshal(map[string]string{"pid": pid})
	old2, sid2, pid2 := connectInRooms(t, r, "news")
	old2.drop()

	failed := r.open()
	failed.send("0" + string(auth))
	st.take(t).done(nil, errors.New("store unreachable"))
	if sid3, pid3 := handshakeIDs(t, failed.read(), "0"); sid3 == sid || pid3 == pid || pid3 == "" {
		t.Fatalf("after a failed Take: sid %q pid %q, want a new socket", sid3, pid3)
	}

	early := r.open()
	early.send("0" + string(auth))
	tk := st.take(t)
	if tk.pid != pid {
		t.Fatalf("Take of %q, want %q", tk.pid, pid)
	}
	early.send(`2["news"]`)
	if reason := early.rec.waitClosed(t); reason != ErrInvalidState.Error() {
		t.Fatalf("closed for %q", reason)
	}
	tk.done(nil, errors.New("no store"))

	// The node's own kept socket, in the store too: recovered.
	ok := r.open()
	auth2, _ := json.Marshal(map[string]string{"pid": pid2})
	ok.send("0" + string(auth2))
	st.take(t).done([]byte(`{"sid":"x","nsp":"/"}`), nil)
	if sid3, pid3 := handshakeIDs(t, ok.read(), "0"); sid3 != sid2 || pid3 != pid2 {
		t.Fatalf("after a Take that got the record: sid %q pid %q, want %q %q", sid3, pid3, sid2, pid2)
	}
}

// TestStoreRefresh: the record of a connected socket that does nothing is
// written again within the window, so that it outlives a node killed
// without a word by the window at least (RecordTTL).
func TestStoreRefresh(t *testing.T) {
	t.Parallel()
	const window = 400 * time.Millisecond
	srv := roomServer(&Config{Recovery: &RecoveryConfig{Window: window}})
	if ttl := srv.RecordTTL(); ttl < window+window/2 {
		t.Fatalf("RecordTTL %v: under the window and the refresh period", ttl)
	}
	st := newFakeStore()
	defer srv.UseStore(st, "n1")()
	r := newRig(t, srv, session.HistoryConfig{Size: 10})
	_, _, pid := connectInRooms(t, r, "news")
	count := func() (n int) {
		st.mu.Lock()
		defer st.mu.Unlock()
		for _, p := range st.puts {
			if p.pid == pid && p.connected && len(p.rec.Rooms) == 1 {
				n++
			}
		}
		return n
	}
	before := count()
	deadline := time.Now().Add(20 * time.Second) // a hang guard
	for count() < before+2 {
		if time.Now().After(deadline) {
			t.Fatalf("the record was not written again: %d writes", count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzRecord: a record taken from the store, whatever its bytes, reads
// without a panic, as no socket or as one of the namespace asked for whose
// rooms are valid rooms of it.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"sid":"AAAAAAAAAAAAAAAAAAAA","nsp":"/","rooms":["a","b"],"epoch":"e","since":3,"data":{"x":1}}`), "/")
	f.Add([]byte(`{"sid":"x","nsp":"/chat","rooms":["/a",""],"gone":1}`), "/chat")
	f.Add([]byte(`{"sid":"x","nsp":"/","data":[}`), "/")
	srv := New(&Config{Recovery: &RecoveryConfig{}})
	f.Fuzz(func(t *testing.T, rec []byte, nsp string) {
		k := srv.keptFromRecord(rec, "pid", nsp)
		if k == nil {
			return
		}
		if k.nsp != nsp || !k.remote || k.sid == "" {
			t.Fatalf("kept %+v from %q for %q", k, rec, nsp)
		}
		for _, r := range k.rooms {
			if topic, ok := RoomTopic(nsp, r.room); !ok || topic != r.pos.Topic {
				t.Fatalf("room %q (topic %q) of %q", r.room, r.pos.Topic, rec)
			}
		}
	})
}

// clusterBus is a session.Bus for a rig's hub as a cluster node's: the
// test delivers the cluster's publications itself (Hub.Deliver).
type clusterBus struct{}

func (clusterBus) Publish(string, []byte) (uint64, error) { return 0, session.ErrUnavailable }
func (clusterBus) PublishAsync(string, []byte, func(uint64, error)) error {
	return session.ErrUnavailable
}
func (clusterBus) SendTo(uint64, []byte) error          { return session.ErrNotFound }
func (clusterBus) Forward(uint64, string, []byte) error { return session.ErrNotFound }

// TestStoreRecoverBehind: a socket recovered from another node's record,
// by a node that has not yet delivered the client's last publication (the
// old node was ahead): the client gets its rooms, and what it missed
// once: not that publication again when it comes.
func TestStoreRecoverBehind(t *testing.T) {
	t.Parallel()
	srv := roomServer(&Config{Recovery: &RecoveryConfig{}})
	st := newFakeStore()
	defer srv.UseStore(st, "b")()
	r := newRig(t, srv, session.HistoryConfig{Size: 10})
	r.hub.SetBus(clusterBus{}, "E")
	now := time.Now()
	r.hub.Deliver("news", 1, 0, []byte("news-1"), now)
	r.hub.Deliver("news", 2, 1, []byte("news-2"), now)
	// The client had news-3 (order 3), from node a.
	c := r.open()
	c.send(`0{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"~3"}`)
	st.take(t).done([]byte(`{"sid":"BBBBBBBBBBBBBBBBBBBB","nsp":"/","rooms":["news","sport"],"epoch":"E","node":"a"}`), nil)
	r.loop.run(func() {}) // what the answer posted to the loop has run
	r.hub.Deliver("news", 3, 2, []byte("news-3"), now)
	r.hub.Deliver("sport", 4, 0, []byte("sport-4"), now)
	var got []string
	connected := false
	for !connected || len(got) < 1 {
		m := c.read()
		switch {
		case strings.HasPrefix(m, "0{"):
			if sid, pid := handshakeIDs(t, m, "0"); sid != "BBBBBBBBBBBBBBBBBBBB" || pid != "AAAAAAAAAAAAAAAAAAAA" {
				t.Fatalf("not recovered: %q", m)
			}
			connected = true
		case strings.HasPrefix(m, `2["message"`):
			got = append(got, m)
		default:
			t.Fatalf("unexpected %q", m)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], `2["message","sport-4"`) {
		t.Fatalf("got %q, want sport-4 once", got)
	}
	r.hub.Deliver("news", 5, 3, []byte("news-5"), now)
	c.expectPrefix(`2["message","news-5"`) // the rooms are back
	c.quiet()
}

// TestStoreGoneDuringTake: a client gone while its record was looked up
// does not lose the record: it goes back to the store, as dropped.
func TestStoreGoneDuringTake(t *testing.T) {
	t.Parallel()
	srv := roomServer(&Config{Recovery: &RecoveryConfig{}})
	st := newFakeStore()
	defer srv.UseStore(st, "b")()
	r := newRig(t, srv, session.HistoryConfig{Size: 10})
	c := r.open()
	c.send(`0{"pid":"AAAAAAAAAAAAAAAAAAAA"}`)
	tk := st.take(t)
	c.drop()
	rec := `{"sid":"BBBBBBBBBBBBBBBBBBBB","nsp":"/","rooms":["news"],"node":"a"}`
	tk.done([]byte(rec), nil)
	r.loop.run(func() {})
	if p := st.last(t); p.pid != "AAAAAAAAAAAAAAAAAAAA" || p.connected || p.rec.SID != "BBBBBBBBBBBBBBBBBBBB" || len(p.rec.Rooms) != 1 {
		t.Fatalf("record put back: %+v", p)
	}
}
