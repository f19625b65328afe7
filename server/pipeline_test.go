package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
)

// pollRequest is a plain poll (wait=0) of topic.
func pollRequest(topic string) string {
	return "GET /poll?topic=" + topic + "&wait=0 HTTP/1.1\r\nHost: test\r\n\r\n"
}

// expectPollOf reads a poll's answer and checks that its cursor names
// exactly topic: answers to pipelined polls come in order.
func (c *rawConn) expectPollOf(topic string) pollReply {
	c.t.Helper()
	resp, body := c.response(http.MethodGet)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("poll of %s: status %d %q", topic, resp.StatusCode, body)
	}
	var r pollReply
	if err := json.Unmarshal(body, &r); err != nil {
		c.t.Fatalf("poll of %s: %q: %v", topic, body, err)
	}
	ps, err := codec.ParseCursor(nil, []byte(r.Cursor))
	if err != nil || len(ps) != 1 || ps[0].Topic != topic {
		c.t.Fatalf("poll of %s answered with the cursor of %v (%v)", topic, ps, err)
	}
	return r
}

// TestPipelinedSplit: two plain polls and a /send with a body, pipelined
// in one stream of bytes, are answered in order with correct answers
// however the bytes are cut: in two writes at every index, and one byte at
// a time. The connection stays open for a next request.
func TestPipelinedSplit(t *testing.T) {
	t.Parallel()
	_, addr := pushServer(t, &server.PushConfig{ClientPublish: true}, server.Config{Loops: 1})
	for _, chunked := range []bool{false, true} {
		body := `{"op":"publish","topic":"pipe-pub","data":"x","id":1}`
		stream := pollRequest("pipe-a") + pollRequest("pipe-b") + sendRequest("", body, chunked)
		check := func(t *testing.T, c *rawConn) {
			t.Helper()
			c.expectPollOf("pipe-a")
			c.expectPollOf("pipe-b")
			resp, b := c.response(http.MethodPost)
			if resp.StatusCode != http.StatusOK || string(b) != `{"op":"ok","id":1}` {
				t.Fatalf("send: status %d %q", resp.StatusCode, b)
			}
			c.write(pollRequest("pipe-c"))
			c.expectPollOf("pipe-c")
		}
		name := map[bool]string{false: "content-length", true: "chunked"}[chunked]
		t.Run(name+"/two writes", func(t *testing.T) {
			t.Parallel()
			for i := 1; i < len(stream); i++ {
				c := dialRaw(t, addr)
				c.write(stream[:i])
				c.write(stream[i:])
				check(t, c)
				c.nc.Close()
			}
		})
		t.Run(name+"/byte by byte", func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			for i := range len(stream) {
				c.write(stream[i : i+1])
			}
			check(t, c)
		})
	}
}

// TestPipelinedAfterHeldPoll: a request pipelined behind a held poll waits
// for the poll's answer, then is answered.
func TestPipelinedAfterHeldPoll(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 1, History: keepHistory(10)})
	publishRange(t, srv, "held-pipe", "m", 0, 1)
	c := dialRaw(t, addr)
	c.write("GET /poll?topic=held-pipe HTTP/1.1\r\nHost: test\r\n\r\n" + pollRequest("after-held"))
	waitFor(t, "the poll to be held", func() bool { return sessions(srv) == 1 })
	publishRange(t, srv, "held-pipe", "m", 1, 2)
	r := c.expectPollOf("held-pipe")
	if objs := r.objects(t); len(objs) != 1 || objs[0].Offset != 2 {
		t.Fatalf("held poll answered %+v", r)
	}
	c.expectPollOf("after-held")
}

// TestPipelinedAfterSendAcrossLoops: a request pipelined behind a /send
// to a stream on another loop is answered after the /send's 202.
func TestPipelinedAfterSendAcrossLoops(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 2})
	s := openStream(t, addr, "/stream", "")
	// The kernel puts each connection on a loop by a hash of its
	// addresses: sends go on, 6 at least and 40 at most, until one was
	// read on the other loop (which counts it in its MessagesIn).
	own := streamShard(t, s)
	readElsewhere := func() (n uint64) { // the other loop's shard exists once it has a connection
		for _, sh := range server.Shards(srv) {
			if sh.Index() != own {
				n += sh.Stats().MessagesIn.Load()
			}
		}
		return n
	}
	crossed := 0
	for i := 0; i < 6 || crossed == 0 && i < 40; i++ {
		before := readElsewhere()
		topic := fmt.Sprintf("pipe-send-%d", i)
		c := dialRaw(t, addr)
		c.write(sendRequest(s.sid, fmt.Sprintf(`{"op":"subscribe","topic":%q}`, topic), i%2 == 0) + pollRequest("after-send"))
		if resp, b := c.response(http.MethodPost); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("send %d: status %d %q", i, resp.StatusCode, b)
		}
		c.expectPollOf("after-send")
		s.expectStart(topic, false)
		if readElsewhere() > before {
			crossed++
		}
	}
	if crossed == 0 {
		t.Fatal("no /send was read on the other loop than the stream's")
	}
}

// TestKeepAlive: polls follow each other on one connection, each from the
// last one's cursor, and lose nothing in between; HTTP/1.0 without
// keep-alive, and Connection: close, end the connection after the answer.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{History: keepHistory(10)})
	publishRange(t, srv, "keep", "m", 0, 1)
	c := dialRaw(t, addr)
	c.write(pollRequest("keep"))
	cursor := c.expectPollOf("keep").Cursor
	for i := 1; i <= 5; i++ {
		publishRange(t, srv, "keep", "m", i, i+1)
		c.write("GET /poll?cursor=" + cursor + " HTTP/1.1\r\nHost: test\r\n\r\n")
		r := c.expectPollOf("keep")
		if objs := r.objects(t); len(objs) != 1 || objs[0].Offset != uint64(i+1) || string(objs[0].payload()) != fmt.Sprint("m", i) {
			t.Fatalf("poll %d: %+v", i, r)
		}
		cursor = r.Cursor
	}

	cases := []struct{ name, req string }{
		{"HTTP/1.0", "GET /poll?topic=keep&wait=0 HTTP/1.0\r\n\r\n"},
		{"Connection: close", "GET /poll?topic=keep&wait=0 HTTP/1.1\r\nConnection: close\r\n\r\n"},
		{"HEAD, Connection: close", "HEAD /poll?topic=keep HTTP/1.1\r\nConnection: close\r\n\r\n"},
		{"OPTIONS, HTTP/1.0", "OPTIONS /poll HTTP/1.0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			c.write(tc.req)
			method, _, _ := strings.Cut(tc.req, " ")
			if resp, b := c.response(method); resp.StatusCode/100 != 2 || !resp.Close {
				t.Fatalf("status %d, close %v, %q", resp.StatusCode, resp.Close, b)
			}
			c.expectEOF()
		})
	}
}
