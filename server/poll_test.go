package server_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// heldPoll starts a poll with query in another goroutine and waits until
// the server holds it (its session is open), failing the test if it was
// answered at once. No other poll may be in progress on srv.
func heldPoll(t *testing.T, srv *server.Server, addr string, query url.Values) <-chan pollReply {
	t.Helper()
	// The session of a poll ends just after its reply is written.
	waitFor(t, "the previous polls to end", func() bool { return sessions(srv) == 0 })
	reply := make(chan pollReply, 1)
	go func() { reply <- pollNoFatal(addr, query) }()
	var early pollReply
	answered := false
	waitFor(t, "the poll to be held", func() bool {
		select {
		case early = <-reply:
			answered = true
			return true
		default:
		}
		return sessions(srv) == 1
	})
	if answered {
		t.Fatalf("the poll was answered at once: %+v", early)
	}
	// The session counts as open before the poll has subscribed, in the
	// same callback: a task on every loop runs after that callback, so once
	// it has run the poll's subscriptions are in place.
	for _, sh := range server.Shards(srv) {
		done := make(chan struct{})
		if err := sh.Post(func() { close(done) }); err != nil {
			t.Fatal(err)
		}
		<-done
	}
	return reply
}

// TestPollHeld: a poll is held until a publication comes, then answered
// with it; wait=0 answers at once with nothing.
func TestPollHeld(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 1, History: keepHistory(10)})
	const topic = "held"
	publishRange(t, srv, topic, "m", 0, 1)
	r := poll(t, addr, url.Values{"topic": {topic}, "wait": {"0"}})
	if len(r.Messages) != 0 || r.More {
		t.Fatalf("wait=0 on a topic with nothing new: %+v", r)
	}
	reply := heldPoll(t, srv, addr, url.Values{"cursor": {r.Cursor}})
	publishRange(t, srv, topic, "m", 1, 2)
	r = <-reply
	objs := r.objects(t)
	if len(objs) != 1 || !objs[0].isPub() || objs[0].Offset != 2 || string(objs[0].payload()) != "m1" {
		t.Fatalf("held poll answered %+v, want m1 at offset 2", r)
	}
}

// TestPollQuietTopic: a topic on which nothing is published is forgotten
// between two polls (no subscriber, no history) and numbered again in a
// new epoch by the next; the held poll that comes back with the old epoch
// is told of the reset in its reply, but still held until there is data,
// rather than answered at once with the reset alone, which made a poll
// client on a quiet topic poll in a busy loop.
func TestPollQuietTopic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		history session.HistoryConfig
	}{
		{"with history", keepHistory(10)},
		{"without history", session.HistoryConfig{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, addr := pushServer(t, nil, server.Config{Loops: 1, History: tc.history})
			const topic = "quiet"
			r := poll(t, addr, url.Values{"topic": {topic}, "wait": {"0"}})
			for range 3 {
				reply := heldPoll(t, srv, addr, url.Values{"cursor": {r.Cursor}})
				publishRange(t, srv, topic, "m", 0, 1)
				r = <-reply
				objs := r.objects(t)
				if len(objs) == 0 {
					t.Fatalf("held poll answered with nothing: %+v", r)
				}
				last := objs[len(objs)-1]
				if !last.isPub() || string(last.payload()) != "m0" {
					t.Fatalf("held poll answered %+v, want m0 last", r)
				}
				for _, o := range objs[:len(objs)-1] {
					if o.Op != "reset" || o.Epoch != last.Epoch || o.Offset != last.Offset-1 {
						t.Fatalf("before the publication: %v, want only a reset to just before it", o)
					}
				}
			}
		})
	}
}

// TestPollResetWhenFull: a reset is said even in a reply that replayed so
// much of another topic that it is full: the cursor moves to the new
// epoch, so a reset left out would never be said.
func TestPollResetWhenFull(t *testing.T) {
	t.Parallel()
	const maxBytes = 300
	srv, addr := pushServer(t, nil, server.Config{History: keepHistory(100), PollMaxBytes: maxBytes})
	const a, b = "full-a", "full-b"
	publishRange(t, srv, a, strings.Repeat("x", 40), 0, 50)
	publishRange(t, srv, b, "b", 0, 5)
	ea, _ := srv.Hub().Position(a)
	eb, ob := srv.Hub().Position(b)
	cursor := string(codec.AppendCursor(nil, []codec.Position{
		{Topic: a, Epoch: ea, Offset: 0},
		{Topic: b, Epoch: "zz9zz9zz", Offset: ob},
	}))
	var got []wireObj
	resets := 0
	for range 100 {
		r := poll(t, addr, url.Values{"cursor": {cursor}, "wait": {"0"}})
		for _, o := range r.objects(t) {
			if o.Op == "reset" {
				if o.topic() != b || o.Epoch != eb || o.Offset != ob {
					t.Fatalf("reset %v, want %s at %s/%d", o, b, eb, ob)
				}
				resets++
				continue
			}
			got = append(got, o)
		}
		cursor = r.Cursor
		if !r.More {
			break
		}
	}
	if resets != 1 {
		t.Fatalf("%d resets of %s, want 1", resets, b)
	}
	if len(got) != 50 {
		t.Fatalf("%d publications of %s, want 50", len(got), a)
	}
	for i, o := range got {
		if o.topic() != a || o.Offset != uint64(i+1) {
			t.Fatalf("publication %d: %v", i, o)
		}
	}
}

// TestPollMaxBytes: a reply holds at most PollMaxBytes of messages (and
// always at least one), says "more", and the next polls bring the rest:
// nothing lost, nothing twice, in order.
func TestPollMaxBytes(t *testing.T) {
	t.Parallel()
	const maxBytes, n = 1000, 100
	srv, addr := pushServer(t, nil, server.Config{History: keepHistory(2 * n), PollMaxBytes: maxBytes})
	const topic = "bounded"
	publishRange(t, srv, topic, "m", 0, 1)
	cursor := poll(t, addr, url.Values{"topic": {topic}, "wait": {"0"}}).Cursor
	payload := strings.Repeat("p", 50)
	publishRange(t, srv, topic, payload, 1, n+1)
	next, polls := 1, 0
	for next <= n {
		polls++
		if polls > n {
			t.Fatalf("%d polls and still at %d", polls, next)
		}
		r := poll(t, addr, url.Values{"cursor": {cursor}, "wait": {"0"}})
		size := 0
		for _, m := range r.Messages {
			size += len(m) + 1
		}
		if len(r.Messages) == 0 || (len(r.Messages) > 1 && size-1 > maxBytes) {
			t.Fatalf("poll %d: %d messages, %d bytes, bound %d", polls, len(r.Messages), size-1, maxBytes)
		}
		for _, o := range r.objects(t) {
			if !o.isPub() || o.Offset != uint64(next+1) || string(o.payload()) != payload+strconv.Itoa(next) {
				t.Fatalf("poll %d: %v, want publication %d", polls, o, next)
			}
			next++
		}
		if r.More != (next <= n) {
			t.Fatalf("poll %d: more %v with %d of %d read", polls, r.More, next-1, n)
		}
		cursor = r.Cursor
	}
	if polls < 2 {
		t.Fatalf("%d polls: the bound did not apply", polls)
	}
}

// cursorTopics returns the topics a cursor names, in order.
func cursorTopics(t *testing.T, cursor string) []string {
	t.Helper()
	ps, err := codec.ParseCursor(nil, []byte(cursor))
	if err != nil {
		t.Fatalf("cursor %q: %v", cursor, err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Topic)
	}
	return names
}

// TestPollTopics: a poll client adds topics with topic= next to its
// cursor and drops them with unsubscribe=; the cursor keeps the rest.
func TestPollTopics(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{History: keepHistory(10)})
	publishRange(t, srv, "pt-a", "a", 0, 1)
	publishRange(t, srv, "pt-b", "b", 0, 1)
	r := poll(t, addr, url.Values{"topic": {"pt-a"}, "wait": {"0"}})
	r = poll(t, addr, url.Values{"cursor": {r.Cursor}, "topic": {"pt-b"}, "wait": {"0"}})
	if got := cursorTopics(t, r.Cursor); !slices.Equal(got, []string{"pt-b", "pt-a"}) {
		t.Fatalf("cursor names %v, want pt-b and pt-a", got)
	}
	publishRange(t, srv, "pt-a", "a", 1, 2)
	publishRange(t, srv, "pt-b", "b", 1, 2)
	r = poll(t, addr, url.Values{"cursor": {r.Cursor}, "unsubscribe": {"pt-a"}, "wait": {"0"}})
	if got := cursorTopics(t, r.Cursor); !slices.Equal(got, []string{"pt-b"}) {
		t.Fatalf("cursor names %v, want pt-b alone", got)
	}
	if objs := r.objects(t); len(objs) != 1 || objs[0].topic() != "pt-b" || string(objs[0].payload()) != "b1" {
		t.Fatalf("reply %+v, want b1 alone", r)
	}
}

// TestPollWaitAndBroadcast: a poll held for wait= seconds is answered
// with nothing when they pass, keeping its cursor; a broadcast answers a
// held poll without moving its cursor.
func TestPollWaitAndBroadcast(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 1, History: keepHistory(10), Timing: session.Config{Tick: 10 * time.Millisecond}})
	publishRange(t, srv, "pw", "m", 0, 1)
	first := poll(t, addr, url.Values{"topic": {"pw"}, "wait": {"0"}})
	r := poll(t, addr, url.Values{"cursor": {first.Cursor}, "wait": {"0.05"}})
	if len(r.Messages) != 0 || r.Cursor != first.Cursor {
		t.Fatalf("after the wait: %+v, want nothing and the same cursor", r)
	}
	reply := heldPoll(t, srv, addr, url.Values{"cursor": {r.Cursor}})
	if err := srv.Hub().Broadcast([]byte("everyone")); err != nil {
		t.Fatal(err)
	}
	r = <-reply
	if objs := r.objects(t); len(objs) != 1 || !objs[0].isPub() || objs[0].topic() != "" || string(objs[0].payload()) != "everyone" {
		t.Fatalf("held poll answered %+v, want the broadcast", r)
	}
	if r.Cursor != first.Cursor {
		t.Fatalf("a broadcast moved the cursor")
	}
}
