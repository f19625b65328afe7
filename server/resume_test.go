package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// The resume tests: a client that stood at offset `live` (having read
// publications m0..m4 at offsets 1..5) misses `missed` publications, comes
// back with its position and must get exactly those, then live ones, with
// no gap and no duplicate.
const (
	live   = 5
	missed = 100
	after  = 5 // live publications after the replay
)

// historyFor keeps more than the tests miss.
var historyFor = keepHistory(4 * missed)

// wsEnvelope is a gorilla/websocket client of the envelope subprotocol.
type wsEnvelope struct {
	t testing.TB
	c *websocket.Conn
}

func dialEnvelope(t testing.TB, addr, query string) *wsEnvelope {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{codec.EnvelopeProtocol}, HandshakeTimeout: wstest.Timeout}
	c, resp, err := d.Dial("ws://"+addr+"/ws"+query, nil)
	if err != nil {
		t.Fatalf("dial /ws%s: %v", query, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != codec.EnvelopeProtocol {
		t.Fatalf("subprotocol %q, want %q", got, codec.EnvelopeProtocol)
	}
	t.Cleanup(func() { c.Close() })
	return &wsEnvelope{t: t, c: c}
}

func (w *wsEnvelope) must() wireObj {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(wstest.Timeout))
	op, p, err := w.c.ReadMessage()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if op != websocket.TextMessage {
		w.t.Fatalf("message type %d, want text", op)
	}
	o, err := decodeObj(p)
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

func (w *wsEnvelope) expectStart(topic string, reset bool) wireObj {
	w.t.Helper()
	o := w.must()
	want := "subscribed"
	if reset {
		want = "reset"
	}
	if o.Op != want || o.topic() != topic || o.Epoch == "" {
		w.t.Fatalf("got %v, want %s of %q", o, want, topic)
	}
	return o
}

func (w *wsEnvelope) expectPubs(topic, prefix string, from, to int, off uint64) {
	w.t.Helper()
	for i := from; i < to; i++ {
		o := w.must()
		if !o.isPub() || o.topic() != topic || o.Offset != off || string(o.payload()) != fmt.Sprint(prefix, i) {
			w.t.Fatalf("got %v, want %s%d at offset %d of %q", o, prefix, i, off, topic)
		}
		off++
	}
}

// TestResumeWebSocket: a WebSocket envelope client resumes by URL
// (?topic=T&since=N&epoch=E) and by subscribe command.
func TestResumeWebSocket(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{History: historyFor})
	cases := []struct {
		name   string
		resume func(t *testing.T, topic, epoch string) *wsEnvelope
	}{
		{"by URL", func(t *testing.T, topic, epoch string) *wsEnvelope {
			c := dialEnvelope(t, addr, "?topic="+topic+"&since="+strconv.Itoa(live)+"&epoch="+epoch)
			c.expectStart(topic, false)
			return c
		}},
		{"by command", func(t *testing.T, topic, epoch string) *wsEnvelope {
			c := dialEnvelope(t, addr, "")
			cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"since":%d,"epoch":%q,"id":7}`, topic, live, epoch)
			if err := c.c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
				t.Fatal(err)
			}
			c.expectStart(topic, false)
			return c
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := "ws-" + tc.name[3:]
			first := dialEnvelope(t, addr, "?topic="+topic)
			st := first.expectStart(topic, false)
			publishRange(t, srv, topic, "m", 0, live)
			first.expectPubs(topic, "m", 0, live, 1)
			first.c.Close()

			publishRange(t, srv, topic, "m", live, live+missed)
			c := tc.resume(t, topic, st.Epoch)
			c.expectPubs(topic, "m", live, live+missed, live+1)
			if tc.name == "by command" {
				if o := c.must(); o.Op != "ok" || string(o.ID) != "7" {
					t.Fatalf("got %v, want the command's reply", o)
				}
			}
			publishRange(t, srv, topic, "m", live+missed, live+missed+after)
			c.expectPubs(topic, "m", live+missed, live+missed+after, live+missed+1)
		})
	}
}

// TestResumeSSE: an SSE client resumes with Last-Event-ID, as a browser's
// EventSource does on reconnect; a stream of two topics gets both back.
func TestResumeSSE(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{History: historyFor})

	t.Run("one topic", func(t *testing.T) {
		t.Parallel()
		const topic = "sse-one"
		path := "/sse?topic=" + topic
		s := openStream(t, addr, path, "")
		s.expectStart(topic, false)
		publishRange(t, srv, topic, "m", 0, live)
		id := s.expectPubs(topic, "m", 0, live, 1)
		s.close()

		publishRange(t, srv, topic, "m", live, live+missed)
		s = openStream(t, addr, path, "Last-Event-ID: "+id+"\r\n")
		s.expectStart(topic, false)
		s.expectPubs(topic, "m", live, live+missed, live+1)
		publishRange(t, srv, topic, "m", live+missed, live+missed+after)
		s.expectPubs(topic, "m", live+missed, live+missed+after, live+missed+1)
	})

	t.Run("two topics", func(t *testing.T) {
		t.Parallel()
		const a, b = "sse-two-a", "sse-two-b"
		path := "/sse?topic=" + a + "&topic=" + b
		s := openStream(t, addr, path, "")
		s.expectStart(a, false)
		s.expectStart(b, false)
		publishRange(t, srv, a, "a", 0, live)
		s.expectPubs(a, "a", 0, live, 1)
		publishRange(t, srv, b, "b", 0, live)
		id := s.expectPubs(b, "b", 0, live, 1)
		s.close()

		publishRange(t, srv, a, "a", live, live+missed)
		publishRange(t, srv, b, "b", live, live+missed)
		// The id alone names both topics: a client without the original
		// URL (lastEventId=) gets both back too.
		s = openStream(t, addr, "/sse?lastEventId="+url.QueryEscape(id), "")
		s.expectStart(a, false)
		s.expectPubs(a, "a", live, live+missed, live+1)
		s.expectStart(b, false)
		s.expectPubs(b, "b", live, live+missed, live+1)
		publishRange(t, srv, a, "a", live+missed, live+missed+after)
		s.expectPubs(a, "a", live+missed, live+missed+after, live+missed+1)
		publishRange(t, srv, b, "b", live+missed, live+missed+after)
		s.expectPubs(b, "b", live+missed, live+missed+after, live+missed+1)
	})

	// A client that drops in the middle of the first topic's replay hands
	// back the id of the last event it read: that id must still name the
	// second topic, which the stream had not reached yet.
	t.Run("dropped during the replay", func(t *testing.T) {
		t.Parallel()
		const a, b, part = "sse-mid-a", "sse-mid-b", 10
		s := openStream(t, addr, "/sse?topic="+a+"&topic="+b, "")
		s.expectStart(a, false)
		s.expectStart(b, false)
		publishRange(t, srv, a, "a", 0, live)
		s.expectPubs(a, "a", 0, live, 1)
		publishRange(t, srv, b, "b", 0, live)
		id := s.expectPubs(b, "b", 0, live, 1)
		s.close()

		publishRange(t, srv, a, "a", live, live+missed)
		publishRange(t, srv, b, "b", live, live+missed)
		s = openStream(t, addr, "/sse?lastEventId="+url.QueryEscape(id), "")
		s.expectStart(a, false)
		id = s.expectPubs(a, "a", live, live+part, live+1)
		s.close()

		s = openStream(t, addr, "/sse?lastEventId="+url.QueryEscape(id), "")
		s.expectStart(a, false)
		s.expectPubs(a, "a", live+part, live+missed, live+part+1)
		s.expectStart(b, false)
		s.expectPubs(b, "b", live, live+missed, live+1)
	})

	// An EventSource reconnects to the URL it was opened with, since=
	// included, and adds Last-Event-ID: the id is the newer position.
	t.Run("reconnect to a URL with since", func(t *testing.T) {
		t.Parallel()
		const topic, part = "sse-since", 10
		s := openStream(t, addr, "/sse?topic="+topic, "")
		st := s.expectStart(topic, false)
		publishRange(t, srv, topic, "m", 0, live)
		s.expectPubs(topic, "m", 0, live, 1)
		s.close()

		publishRange(t, srv, topic, "m", live, live+missed)
		path := fmt.Sprintf("/sse?topic=%s&since=%d&epoch=%s", topic, live, st.Epoch)
		s = openStream(t, addr, path, "")
		s.expectStart(topic, false)
		id := s.expectPubs(topic, "m", live, live+part, live+1)
		s.close()

		s = openStream(t, addr, path, "Last-Event-ID: "+id+"\r\n")
		s.expectStart(topic, false)
		s.expectPubs(topic, "m", live+part, live+missed, live+part+1)
	})
}

// TestResumePoll: a long-poll client resumes with its cursor; then a held
// poll is answered by the live publications.
func TestResumePoll(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{History: historyFor})
	const topic = "poll-resume"
	// The topic has history before the first poll: a topic with neither
	// subscribers nor history is forgotten between two polls, and the
	// next publication would start a new epoch (see TestPollQuietTopic).
	publishRange(t, srv, topic, "m", 0, live)
	r := poll(t, addr, url.Values{"topic": {topic}, "wait": {"0"}})
	if len(r.Messages) != 0 {
		t.Fatalf("first poll: %s", r.Messages)
	}

	publishRange(t, srv, topic, "m", live, live+missed)
	r = expectPolled(t, addr, r.Cursor, topic, "m", live, live+missed, live+1)

	// A held poll: it is answered by the publications that follow.
	// The session of a poll ends just after its reply is written.
	waitFor(t, "the previous polls to end", func() bool { return sessions(srv) == 0 })
	held := make(chan pollReply, 1)
	go func() { held <- pollNoFatal(addr, url.Values{"cursor": {r.Cursor}}) }()
	waitFor(t, "the poll to be held", func() bool { return sessions(srv) == 1 })
	publishRange(t, srv, topic, "m", live+missed, live+missed+after)
	r = <-held
	next := live + missed
	for {
		objs := r.objects(t)
		if len(objs) == 0 {
			t.Fatalf("a held poll answered with nothing: %+v", r)
		}
		for _, o := range objs {
			if !o.isPub() || o.Offset != uint64(next+1) || string(o.payload()) != fmt.Sprint("m", next) {
				t.Fatalf("got %v, want m%d at offset %d", o, next, next+1)
			}
			next++
		}
		if next == live+missed+after {
			break
		}
		r = poll(t, addr, url.Values{"cursor": {r.Cursor}})
	}
}

// expectPolled polls from cursor and expects exactly the publications
// "<prefix><i>" for i in [from, to) at offsets off...
func expectPolled(t *testing.T, addr, cursor, topic, prefix string, from, to int, off uint64) pollReply {
	t.Helper()
	r := poll(t, addr, url.Values{"cursor": {cursor}})
	objs := r.objects(t)
	if len(objs) != to-from || r.More {
		t.Fatalf("poll: %d messages (more %v), want %d", len(objs), r.More, to-from)
	}
	for i, o := range objs {
		if !o.isPub() || o.topic() != topic || o.Offset != off+uint64(i) || string(o.payload()) != fmt.Sprint(prefix, from+i) {
			t.Fatalf("message %d: %v, want %s%d at offset %d", i, o, prefix, from+i, off+uint64(i))
		}
	}
	return r
}

// pollNoFatal is poll for another goroutine: it reports by an empty reply
// with the error in Cursor.
func pollNoFatal(addr string, query url.Values) pollReply {
	resp, err := httpClient.Get("http://" + addr + "/poll?" + query.Encode())
	if err != nil {
		return pollReply{Cursor: "error: " + err.Error()}
	}
	defer resp.Body.Close()
	var r pollReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return pollReply{Cursor: "error: " + err.Error()}
	}
	return r
}

// resumer resumes one topic from a position on one transport and returns a
// reader of what follows.
type resumer struct {
	name string
	// from resumes topic from pos and returns the first object, and a
	// function that reads the next publication after a publish.
	from func(t *testing.T, addr, topic string, pos codec.Position) (wireObj, func() wireObj)
}

var resumers = []resumer{
	{"websocket", func(t *testing.T, addr, topic string, pos codec.Position) (wireObj, func() wireObj) {
		c := dialEnvelope(t, addr, fmt.Sprintf("?topic=%s&since=%d&epoch=%s", topic, pos.Offset, pos.Epoch))
		return c.must(), c.must
	}},
	{"sse", func(t *testing.T, addr, topic string, pos codec.Position) (wireObj, func() wireObj) {
		id := codec.AppendCursor(nil, []codec.Position{pos})
		s := openStream(t, addr, "/sse?topic="+topic, "Last-Event-ID: "+string(id)+"\r\n")
		return s.must(), s.must
	}},
	{"poll", func(t *testing.T, addr, topic string, pos codec.Position) (wireObj, func() wireObj) {
		cursor := string(codec.AppendCursor(nil, []codec.Position{pos}))
		r := poll(t, addr, url.Values{"cursor": {cursor}, "wait": {"0"}})
		objs := r.objects(t)
		if len(objs) != 1 {
			t.Fatalf("poll from %v: %d messages, want the reset alone", pos, len(objs))
		}
		return objs[0], func() wireObj {
			r := poll(t, addr, url.Values{"cursor": {r.Cursor}})
			objs := r.objects(t)
			if len(objs) != 1 {
				t.Fatalf("next poll: %d messages, want 1", len(objs))
			}
			return objs[0]
		}
	}},
}

// TestResumeReset: a position that history no longer covers (too old, or
// another epoch) gets the explicit reset with the topic's current epoch
// and offset, nothing replayed, then the next publication.
func TestResumeReset(t *testing.T) {
	t.Parallel()
	const kept = 10
	srv, addr := pushServer(t, nil, server.Config{History: keepHistory(kept)})
	positions := []struct {
		name string
		pos  func(epoch string) codec.Position
	}{
		{"older than history", func(epoch string) codec.Position { return codec.Position{Epoch: epoch, Offset: live} }},
		{"another epoch", func(string) codec.Position { return codec.Position{Epoch: "zz9zz9zz", Offset: live + missed} }},
		{"an offset never reached", func(epoch string) codec.Position {
			return codec.Position{Epoch: epoch, Offset: live + missed + 1}
		}},
	}
	for _, tr := range resumers {
		for i, p := range positions {
			t.Run(tr.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				topic := fmt.Sprintf("reset-%s-%d", tr.name, i)
				publishRange(t, srv, topic, "m", 0, live+missed)
				epoch, off := srv.Hub().Position(topic)
				pos := p.pos(epoch)
				pos.Topic = topic
				o, next := tr.from(t, addr, topic, pos)
				if o.Op != "reset" || o.topic() != topic || o.Epoch != epoch || o.Offset != off {
					t.Fatalf("got %v, want reset to %s/%d", o, epoch, off)
				}
				publishRange(t, srv, topic, "m", live+missed, live+missed+1)
				if o := next(); !o.isPub() || o.Offset != off+1 || o.Epoch != epoch {
					t.Fatalf("after the reset: %v, want the publication at offset %d", o, off+1)
				}
			})
		}
	}
}

// TestResumeAfterRestart: a position from a server that restarted (a new
// epoch for every topic) gets a reset on every transport.
func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	old, _ := pushServer(t, nil, server.Config{History: historyFor, DrainSpread: -1})
	const topic = "restart"
	publishRange(t, old, topic, "m", 0, live)
	epoch, off := old.Hub().Position(topic)
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil && err != server.ErrServerClosed {
		t.Fatalf("shutdown: %v", err)
	}

	srv, addr := pushServer(t, nil, server.Config{History: historyFor})
	publishRange(t, srv, topic, "n", 0, 3)
	newEpoch, newOff := srv.Hub().Position(topic)
	if newEpoch == epoch {
		t.Fatalf("the restarted server kept epoch %s", epoch)
	}
	for _, tr := range resumers {
		t.Run(tr.name, func(t *testing.T) {
			o, _ := tr.from(t, addr, topic, codec.Position{Topic: topic, Epoch: epoch, Offset: off})
			if o.Op != "reset" || o.topic() != topic || o.Epoch != newEpoch || o.Offset != newOff {
				t.Fatalf("got %v, want reset to %s/%d", o, newEpoch, newOff)
			}
		})
	}
}

// TestResumeWhilePublishing: a client resumes while a publisher keeps
// publishing to the topic: the replay and the live publications join with
// no gap and no duplicate, on every transport, on either loop.
func TestResumeWhilePublishing(t *testing.T) {
	t.Parallel()
	const total = 600
	srv, addr := pushServer(t, nil, server.Config{Loops: 2, History: keepHistory(2 * total)})
	type reader func(t *testing.T, topic string, pos codec.Position) func() wireObj
	readers := []struct {
		name string
		open reader
	}{
		{"websocket", func(t *testing.T, topic string, pos codec.Position) func() wireObj {
			c := dialEnvelope(t, addr, fmt.Sprintf("?topic=%s&since=%d&epoch=%s", topic, pos.Offset, pos.Epoch))
			return c.must
		}},
		{"sse", func(t *testing.T, topic string, pos codec.Position) func() wireObj {
			id := codec.AppendCursor(nil, []codec.Position{pos})
			return openStream(t, addr, "/sse?topic="+topic, "Last-Event-ID: "+string(id)+"\r\n").must
		}},
		{"ndjson", func(t *testing.T, topic string, pos codec.Position) func() wireObj {
			return openStream(t, addr, fmt.Sprintf("/stream?topic=%s&since=%d&epoch=%s", topic, pos.Offset, pos.Epoch), "").must
		}},
		{"poll", func(t *testing.T, topic string, pos codec.Position) func() wireObj {
			cursor := string(codec.AppendCursor(nil, []codec.Position{pos}))
			var pending []wireObj
			return func() wireObj {
				for len(pending) == 0 {
					r := poll(t, addr, url.Values{"cursor": {cursor}})
					pending, cursor = r.objects(t), r.Cursor
				}
				o := pending[0]
				pending = pending[1:]
				return o
			}
		}},
	}
	for _, rd := range readers {
		for round := range 4 { // connections alternate between the loops
			t.Run(fmt.Sprintf("%s/%d", rd.name, round), func(t *testing.T) {
				t.Parallel()
				topic := fmt.Sprintf("busy-%s-%d", rd.name, round)
				publishRange(t, srv, topic, "m", 0, 50)
				epoch, _ := srv.Hub().Position(topic)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for i := 50; i < total; i++ {
						if _, err := srv.Hub().Publish(topic, fmt.Appendf(nil, "m%d", i)); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				next := rd.open(t, topic, codec.Position{Topic: topic, Epoch: epoch, Offset: 10})
				for off := uint64(11); off <= total; {
					o := next()
					if o.Op != "" {
						if o.Op != "subscribed" {
							t.Fatalf("got %v", o)
						}
						continue
					}
					if o.Offset != off || string(o.payload()) != fmt.Sprint("m", off-1) {
						t.Fatalf("got %v, want offset %d", o, off)
					}
					off++
				}
				<-done
			})
		}
	}
}
