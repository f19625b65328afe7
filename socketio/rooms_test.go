package socketio

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/session"
)

// roomServer joins each socket to the rooms named in a "join" event and
// acks it.
func roomServer(cfg *Config) *Server {
	srv := New(cfg)
	for _, name := range []string{"/", "/chat"} {
		srv.Of(name).On("join", func(s *Socket, a Args, ack *Ack) {
			room, _ := a.String(0)
			err := s.Join(room)
			if ack != nil {
				if err != nil {
					_ = ack.Send(err.Error())
				} else {
					_ = ack.Send(nil)
				}
			}
		})
	}
	return srv
}

// TestRoomPublications publishes to room topics through the hub and checks
// the event each publication becomes, in the room's namespace only.
func TestRoomPublications(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(nil), session.HistoryConfig{})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.send("0/chat,")
	c.expectPrefix(`0/chat,{"sid":"`)
	c.send(`21["join","news"]`)
	c.expect(`31[null]`)
	c.send(`2/chat,2["join","news"]`)
	c.expect(`3/chat,2[null]`)

	cases := []struct {
		topic, data, want string
	}{
		{"news", "hello", `2["message","hello"]`},
		{"news", `{"a":1}`, `2["message",{"a":1}]`},
		{"news", `["chat",{"text":"hi"},2]`, `2["chat",{"text":"hi"},2]`},
		{"news", `["connect",1]`, `2["message",["connect",1]]`},
		{"news", "\xff\x00", `2["message","/wA="]`},
		{"/chat#news", "hi", `2/chat,["message","hi"]`},
		{"news", `[1, "x"]`, `2["message",[1, "x"]]`},
	}
	for _, tc := range cases {
		if _, err := r.hub.Publish(tc.topic, []byte(tc.data)); err != nil {
			t.Fatal(err)
		}
		c.expect(tc.want)
	}
	// Room.Emit publishes the event array: the same through the hub.
	if _, err := r.srv.Of("/chat").To("news").Emit("chat", map[string]string{"text": "yo"}, 3); err != nil {
		t.Fatal(err)
	}
	c.expect(`2/chat,["chat",{"text":"yo"},3]`)
	c.quiet()
}

// TestLeaveAndDisconnectUnsubscribe checks that a socket leaving its
// namespace leaves its rooms' topics.
func TestLeaveAndDisconnectUnsubscribe(t *testing.T) {
	t.Parallel()
	r := newRig(t, roomServer(nil), session.HistoryConfig{})
	c := r.open()
	c.send("0/chat,")
	c.expectPrefix(`0/chat,{"sid":"`)
	c.send(`2/chat,["join","a"]`)
	r.loop.run(func() {})
	if n := subscribers(r, "/chat#a"); n != 1 {
		t.Fatalf("subscribers %d, want 1", n)
	}
	c.send("1/chat,")
	r.loop.run(func() {})
	if n := subscribers(r, "/chat#a"); n != 0 {
		t.Fatalf("subscribers after leaving the namespace %d, want 0", n)
	}
}

func subscribers(r *rig, topic string) int {
	var n int
	r.loop.run(func() { n = r.sh.Subscribers(topic) })
	return n
}

// TestRoomNames checks the room to topic mapping both ways.
func TestRoomNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		nsp, room, topic string
		ok               bool
	}{
		{"/", "news", "news", true},
		{"/chat", "news", "/chat#news", true},
		{"/", "/chat#news", "", false}, // would be another namespace's
		{"/", "a b", "", false},
		{"/", "", "", false},
		{"/", "$user:x", "", false},
		{"/x#y", "a", "", false},
		{"chat", "a", "", false},
	}
	for _, tc := range cases {
		topic, ok := RoomTopic(tc.nsp, tc.room)
		if topic != tc.topic || ok != tc.ok {
			t.Errorf("RoomTopic(%q, %q) = %q, %v; want %q, %v", tc.nsp, tc.room, topic, ok, tc.topic, tc.ok)
		}
		if ok {
			if nsp, room := TopicRoom(topic); nsp != tc.nsp || room != tc.room {
				t.Errorf("TopicRoom(%q) = %q, %q", topic, nsp, room)
			}
		}
	}
}

// TestServerAck emits with an ack: the client's ACK calls back with its
// arguments; an unanswered one times out; a full table refuses.
func TestServerAck(t *testing.T) {
	t.Parallel()
	got := make(chan string, 4)
	srv := New(&Config{MaxPendingAcks: 2})
	var sock *Socket
	var mu sync.Mutex
	srv.Of("/").OnConnect(func(s *Socket) { mu.Lock(); sock = s; mu.Unlock() })
	r := newRig(t, srv, session.HistoryConfig{})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	mu.Lock()
	s := sock
	mu.Unlock()
	cb := func(a Args, err error) {
		if err != nil {
			got <- err.Error()
			return
		}
		var v []any
		_ = json.Unmarshal(appendArray(nil, nil, a.JSON), &v)
		b, _ := json.Marshal(v)
		got <- string(b)
	}
	if err := s.EmitWithAck("q", time.Minute, cb, 1); err != nil {
		t.Fatal(err)
	}
	c.expect(`20["q",1]`)
	if err := s.EmitWithAck("q", 30*time.Millisecond, cb, 2); err != nil {
		t.Fatal(err)
	}
	c.expect(`21["q",2]`)
	if err := s.EmitWithAck("q", time.Minute, cb, 3); err != ErrTooManyAcks {
		t.Fatalf("third pending ack: %v, want ErrTooManyAcks", err)
	}
	c.send(`30["a",{"b":true}]`)
	if v := <-got; v != `["a",{"b":true}]` {
		t.Fatalf("ack %s", v)
	}
	if v := <-got; v != ErrAckTimeout.Error() {
		t.Fatalf("second ack: %s, want a timeout", v)
	}
	// An ack for an id nobody waits for is ignored.
	c.send(`37[]`)
	c.quiet()
	// Binary ack from the client.
	if err := s.EmitWithAck("q", time.Minute, func(a Args, err error) {
		b, ok := a.Bytes(0)
		if err != nil || !ok {
			got <- "no bytes"
			return
		}
		got <- string(b)
	}); err != nil {
		t.Fatal(err)
	}
	c.expect(`22["q"]`)
	c.send(`61-2[{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte("xyz"))
	if v := <-got; v != "xyz" {
		t.Fatalf("binary ack %q", v)
	}
	// A pending ack fails when the connection drops.
	if err := s.EmitWithAck("q", time.Minute, cb); err != nil {
		t.Fatal(err)
	}
	c.drop()
	if v := <-got; v != ErrNotConnected.Error() {
		t.Fatalf("pending ack at drop: %s", v)
	}
}

// TestServerDisconnect: Disconnect(false) leaves one namespace with a
// DISCONNECT packet; Disconnect(true) ends the whole client.
func TestServerDisconnect(t *testing.T) {
	t.Parallel()
	reasons := make(chan string, 4)
	srv := New(nil)
	for _, n := range []string{"/", "/a"} {
		srv.Of(n).On("bye", func(s *Socket, a Args, _ *Ack) {
			var all bool
			_ = a.Decode(0, &all)
			s.Disconnect(all)
		})
		srv.Of(n).OnDisconnect(func(s *Socket, reason string) { reasons <- s.Namespace().Name() + " " + reason })
	}
	r := newRig(t, srv, session.HistoryConfig{})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.send("0/a,")
	c.expectPrefix(`0/a,{"sid":"`)
	c.send(`2/a,["bye",false]`)
	c.expect(`1/a,`)
	if v := <-reasons; v != "/a server namespace disconnect" {
		t.Fatal(v)
	}
	if c.rec.isClosed() {
		t.Fatal("leaving one namespace closed the client")
	}
	c.send("0/a,")
	c.expectPrefix(`0/a,{"sid":"`)
	c.send(`2["bye",true]`)
	got := map[string]bool{c.read(): true, c.read(): true}
	if !got["1"] || !got["1/a,"] {
		t.Fatalf("disconnect packets %v", got)
	}
	c.rec.waitClosed(t)
	got2 := map[string]bool{<-reasons: true, <-reasons: true}
	if !got2["/ server namespace disconnect"] || !got2["/a server namespace disconnect"] {
		t.Fatalf("reasons %v", got2)
	}
}

// TestClientDisconnect runs the disconnect handler with the client's
// reason, and the transport reason when the connection drops.
func TestClientDisconnect(t *testing.T) {
	t.Parallel()
	reasons := make(chan string, 4)
	srv := New(nil)
	srv.Of("/").OnDisconnect(func(_ *Socket, reason string) { reasons <- reason })
	r := newRig(t, srv, session.HistoryConfig{})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.send("1")
	if v := <-reasons; v != ReasonClientDisconnect {
		t.Fatal(v)
	}
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.drop()
	if v := <-reasons; v != ReasonTransportClose {
		t.Fatal(v)
	}
	if !strings.Contains(ReasonTransportClose, "transport") {
		t.Fatal("reason name")
	}
}
