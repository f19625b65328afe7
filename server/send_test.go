package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/c1mhq/c1m/server"
)

// sendRequest returns a POST /send request for sid ("" for none) carrying
// body with Content-Length, or chunked in chunks of at most 7 bytes.
func sendRequest(sid, body string, chunked bool) string {
	path := "/send"
	if sid != "" {
		path += "?sid=" + sid
	}
	head := "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
	if !chunked {
		return head + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	var b strings.Builder
	b.WriteString(head + "Transfer-Encoding: chunked\r\n\r\n")
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 7)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// send POSTs a command to sid on a new connection and returns the status
// and body of the answer.
func send(t testing.TB, addr, sid, body string, chunked bool) (int, string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.nc.Close()
	c.write(sendRequest(sid, body, chunked))
	resp, b := c.response(http.MethodPost)
	return resp.StatusCode, string(b)
}

// expectReply reads the message object that carries a command's reply.
func (s *httpStream) expectReply(want string) {
	s.t.Helper()
	if o := s.must(); o.Op != "message" || o.Data == nil || *o.Data != want {
		s.t.Fatalf("got %v, want a message with %s", o, want)
	}
}

// TestSendToStream: POST /send?sid=S hands a subscribe command to the
// stream S: the answer is 202, and the subscription and the command's
// reply arrive on the stream, then the topic's publications.
func TestSendToStream(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{})
	for _, kind := range streamPaths {
		for _, chunked := range []bool{false, true} {
			name := kind.name + "/content-length"
			if chunked {
				name = kind.name + "/chunked"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				topic := strings.ReplaceAll("send-"+name, "/", "-")
				s := openStream(t, addr, kind.path, "")
				cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":7}`, topic)
				if status, body := send(t, addr, s.sid, cmd, chunked); status != http.StatusAccepted {
					t.Fatalf("status %d %q, want 202", status, body)
				}
				s.expectStart(topic, false)
				s.expectReply(`{"op":"ok","id":7}`)
				publishRange(t, srv, topic, "m", 0, 3)
				s.expectPubs(topic, "m", 0, 3, 1)
			})
		}
	}
}

// TestSendNotFound: a sid that names no stream, a forged one, and one
// whose stream ended get 404, and the connection stays usable.
func TestSendNotFound(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{})
	live := openStream(t, addr, "/sse", "")
	id, token, _ := strings.Cut(live.sid, ".")
	tok, err := strconv.ParseUint(token, 36, 64)
	if err != nil {
		t.Fatalf("sid %q: %v", live.sid, err)
	}
	ended := openStream(t, addr, "/stream", "")
	ended.close()
	waitFor(t, "the stream to end", func() bool { return sessions(srv) == 1 })

	cases := []struct{ name, sid string }{
		{"unknown", "1.1"},
		{"malformed", "zz"},
		{"no token", id},
		{"wrong token", id + "." + strconv.FormatUint(tok+2, 36)},
		{"ended", ended.sid},
		{"other shard", strconv.FormatUint(7<<48|1, 36) + "." + token},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			for range 2 { // kept alive after a 404
				c.write(sendRequest(tc.sid, `{"op":"subscribe","topic":"x"}`, false))
				if resp, body := c.response(http.MethodPost); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d %q, want 404", resp.StatusCode, body)
				}
			}
		})
	}
	t.Cleanup(func() {
		// The real stream got nothing of the forged sends.
		publishRange(t, srv, "after", "m", 0, 1)
		if status, _ := send(t, addr, live.sid, `{"op":"subscribe","topic":"after2","id":1}`, false); status != http.StatusAccepted {
			t.Errorf("the real sid: status %d", status)
		}
		if o := live.must(); o.Op != "subscribed" || o.topic() != "after2" {
			t.Errorf("the real stream got %v first", o)
		}
	})
}

// streamShard returns the index of the shard (loop) of stream s, which
// its id carries in its top 16 bits.
func streamShard(t *testing.T, s *httpStream) int {
	t.Helper()
	id, _, _ := strings.Cut(s.sid, ".")
	n, err := strconv.ParseUint(id, 36, 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(n >> 48)
}

// TestSendAcrossLoops: a /send that arrives on one loop reaches a stream
// on the other.
func TestSendAcrossLoops(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{Loops: 2})
	// Streams until both loops have one; the shard is in the id's top
	// 16 bits.
	var targets [2]*httpStream
	for i := 0; targets[0] == nil || targets[1] == nil; i++ {
		if i == 40 {
			t.Fatal("40 streams and a loop has none")
		}
		s := openStream(t, addr, "/stream", "")
		if k := streamShard(t, s); targets[k] == nil {
			targets[k] = s
		}
	}
	shards := server.Shards(srv)
	readOn := func(k int) uint64 { return shards[k].Stats().MessagesIn.Load() }
	for k, s := range targets {
		other := 1 - k
		// The kernel puts each connection on a loop by a hash of its
		// addresses: sends go on, 40 at most, until one is read on the
		// other loop. The loop that read a /send body counts it in its
		// MessagesIn.
		for j := 0; j < 40; j++ {
			before := readOn(other)
			topic := fmt.Sprintf("across-%d-%d", k, j)
			cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":%d}`, topic, j)
			if status, body := send(t, addr, s.sid, cmd, j%2 == 1); status != http.StatusAccepted {
				t.Fatalf("loop %d, send %d: status %d %q", k, j, status, body)
			}
			s.expectStart(topic, false)
			s.expectReply(fmt.Sprintf(`{"op":"ok","id":%d}`, j))
			publishRange(t, srv, topic, "m", 0, 1)
			s.expectPubs(topic, "m", 0, 1, 1)
			if readOn(other) > before && j >= 1 {
				break // one from each loop at least
			}
			if j == 39 {
				t.Fatalf("no /send to the stream on loop %d was read on loop %d", k, other)
			}
		}
	}
}

// TestSendWithoutStream: a poll client POSTs /send without sid: a publish
// command (when clients may publish) is answered in the body, and the
// publication reaches subscribers; a subscribe is refused with 400.
func TestSendWithoutStream(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, &server.PushConfig{ClientPublish: true}, server.Config{})
	_, noPublish := pushServer(t, nil, server.Config{})
	sub := openStream(t, addr, "/sse?topic=oneoff", "")
	sub.expectStart("oneoff", false)
	cases := []struct {
		name, addr, body string
		status           int
		reply            string
	}{
		{"publish", addr, `{"op":"publish","topic":"oneoff","data":"hi","id":1}`, http.StatusOK, `{"op":"ok","id":1}`},
		{"publish without id", addr, `{"op":"publish","topic":"oneoff","data":"hi"}`, http.StatusOK, ``},
		{"publish not allowed", noPublish, `{"op":"publish","topic":"oneoff","data":"hi","id":2}`, http.StatusOK, `{"op":"error","id":2,"error":"publishing is not allowed"}`},
		{"bad command", addr, `{"op":"dance"}`, http.StatusOK, `{"op":"error","error":"bad command"}`},
		{"subscribe", addr, `{"op":"subscribe","topic":"x","id":3}`, http.StatusBadRequest, ``},
		{"unsubscribe", addr, `{"op":"unsubscribe","topic":"x"}`, http.StatusBadRequest, ``},
	}
	published := 0
	for _, tc := range cases {
		for _, chunked := range []bool{false, true} {
			// net/http as the client: it sends a body of unknown length
			// chunked.
			var body io.Reader = strings.NewReader(tc.body)
			if chunked {
				body = io.MultiReader(body)
			}
			resp, err := httpClient.Post("http://"+tc.addr+"/send", "application/json", body)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s (chunked %v): status %d %q, want %d", tc.name, chunked, resp.StatusCode, b, tc.status)
			}
			if tc.status == http.StatusOK && string(b) != tc.reply {
				t.Fatalf("%s (chunked %v): reply %q, want %q", tc.name, chunked, b, tc.reply)
			}
			if tc.status == http.StatusBadRequest && !strings.Contains(string(b), `"op":"error"`) {
				t.Fatalf("%s: body %q, want an error object", tc.name, b)
			}
			if tc.addr == addr && strings.Contains(tc.body, "publish") {
				published++
			}
		}
	}
	for i := range published {
		if o := sub.must(); !o.isPub() || string(o.payload()) != "hi" || o.Offset != uint64(i+1) {
			t.Fatalf("subscriber got %v, want hi at offset %d", o, i+1)
		}
	}
	_ = srv
}

// TestSendExpectContinue: a client that asks "Expect: 100-continue" gets
// the interim answer before it sends its body, then the answer.
func TestSendExpectContinue(t *testing.T) {
	t.Parallel()
	_, addr := pushServer(t, &server.PushConfig{ClientPublish: true}, server.Config{})
	c := dialRaw(t, addr)
	body := `{"op":"publish","topic":"cont","data":"hi","id":7}`
	c.write("POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	interim, err := c.br.ReadString('\n')
	if err != nil || interim != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim answer %q %v, want 100 Continue", interim, err)
	}
	if blank, err := c.br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after the interim answer %q %v", blank, err)
	}
	c.write(body)
	resp, b := c.response("POST")
	if resp.StatusCode != http.StatusOK || string(b) != `{"op":"ok","id":7}` {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
