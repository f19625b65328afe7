package socketio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/session"
)

// suiteServer is the server of the socket.io-protocol test suite (as
// examples/socketio): "auth" with the handshake's payload on "/" and
// "/custom"; on "/", "message" answered by "message-back" and
// "message-with-ack" acked, both with the same arguments.
func suiteServer(cfg *Config) *Server {
	srv := New(cfg)
	for _, name := range []string{"/", "/custom"} {
		srv.Of(name).OnConnect(func(s *Socket) { _ = s.Emit("auth", s.Auth()) })
	}
	main := srv.Of("/")
	main.On("message", func(s *Socket, a Args, _ *Ack) { _ = s.EmitArgs("message-back", a) })
	main.On("message-with-ack", func(_ *Socket, a Args, ack *Ack) {
		if ack != nil {
			_ = ack.SendArgs(a)
		}
	})
	return srv
}

// connectMain opens a session and connects it to "/", reading the CONNECT
// answer and the auth event.
func connectMain(r *rig) *conn {
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.expect(`2["auth",{}]`)
	return c
}

// TestSuiteCases replays the Socket.IO cases of the socket.io-protocol
// test suite (test-suite/test-suite.js) on the layer: each sends packets
// and checks the answers, or that the session is closed.
func TestSuiteCases(t *testing.T) {
	t.Parallel()
	type step struct {
		send   string // a text message; "bin:1,2,3" a binary one
		expect string // the next message; a trailing '*' matches a prefix
	}
	cases := []struct {
		name   string
		steps  []step
		closed bool // the session ends (the reference closes it)
	}{
		{"connect main", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`}}, false},
		{"connect main with payload", []step{{`0{"token":"123"}`, `0{"sid":"*`}, {"", `2["auth",{"token":"123"}]`}}, false},
		{"connect custom", []step{{"0/custom,", `0/custom,{"sid":"*`}, {"", `2/custom,["auth",{}]`}}, false},
		{"connect custom with payload", []step{{`0/custom,{"token":"abc"}`, `0/custom,{"sid":"*`}, {"", `2/custom,["auth",{"token":"abc"}]`}}, false},
		{"connect custom without comma", []step{{"0/custom", `0/custom,{"sid":"*`}, {"", `2/custom,["auth",{}]`}}, false},
		{"unknown namespace", []step{{"0/random", `4/random,{"message":"Invalid namespace"}`}}, false},
		{"invalid handshake", []step{{"abc", ""}}, true},
		{"connect then disconnect custom", []step{
			{"0", `0{"sid":"*`}, {"", `2["auth",{}]`},
			{"0/custom", `0/custom,{"sid":"*`}, {"", `2/custom,["auth",{}]`},
			{"1/custom,", ""},
			{`2["message","message to main namespace"]`, `2["message-back","message to main namespace"]`},
		}, false},
		{"plain-text event", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`},
			{`2["message",1,"2",{"3":[true]}]`, `2["message-back",1,"2",{"3":[true]}]`}}, false},
		{"binary event", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`},
			{`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, ""},
			{"bin:1,2,3", ""},
			{"bin:4,5,6", `52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
			{"", "bin:[1 2 3]"}, {"", "bin:[4 5 6]"}}, false},
		{"event with ack", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`},
			{`2456["message-with-ack",1,"2",{"3":[false]}]`, `3456[1,"2",{"3":[false]}]`}}, false},
		{"binary event with ack", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`},
			{`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, ""},
			{"bin:1,2,3", ""},
			{"bin:4,5,6", `62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
			{"", "bin:[1 2 3]"}, {"", "bin:[4 5 6]"}}, false},
		{"unknown packet type", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`}, {"abc", ""}}, true},
		{"invalid payload format", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`}, {"2{}", ""}}, true},
		{"invalid ack id", []step{{"0", `0{"sid":"*`}, {"", `2["auth",{}]`}, {`2abc["message-with-ack",1,"2",{"3":[false]}]`, ""}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, suiteServer(nil), session.HistoryConfig{})
			c := r.open()
			for _, st := range tc.steps {
				switch {
				case strings.HasPrefix(st.send, "bin:"):
					c.sendBinary(parseBytes(st.send[4:]))
				case st.send != "":
					c.send(st.send)
				}
				switch {
				case st.expect == "":
				case strings.HasSuffix(st.expect, "*"):
					c.expectPrefix(strings.TrimSuffix(st.expect, "*"))
				default:
					c.expect(st.expect)
				}
			}
			if tc.closed {
				c.rec.waitClosed(t)
				return
			}
			c.quiet()
			if c.rec.isClosed() {
				t.Fatal("session closed")
			}
		})
	}
}

func parseBytes(s string) []byte {
	var b []byte
	for _, f := range strings.Split(s, ",") {
		var n int
		for _, d := range f {
			n = n*10 + int(d-'0')
		}
		b = append(b, byte(n))
	}
	return b
}

// TestMalformed sends each malformed packet or sequence after a connect
// to "/" and checks that the session is closed, as the reference server
// closes it, and that another session on the same loop goes on.
func TestMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		msgs []string // "bin:..." is a binary message
	}{
		{"empty", []string{""}},
		{"type out of range", []string{"7"}},
		{"binary without dash", []string{`51["message",{"_placeholder":true,"num":0}]`}},
		{"binary count not a number", []string{`5x-["message"]`}},
		{"too many attachments", []string{`511-["message"]`}},
		{"event not an array", []string{`2"message"`}},
		{"event empty array", []string{`2[]`}},
		{"event name not a string", []string{`2[{}]`}},
		{"reserved event name", []string{`2["connect"]`}},
		{"truncated JSON", []string{`2["message",`}},
		{"ack not an array", []string{`31{}`}},
		{"disconnect with payload", []string{`1{}`}},
		{"connect payload not an object", []string{`0/custom,"x"`}},
		{"connect to a joined namespace", []string{`0`}},
		{"event to an unjoined namespace", []string{`2/custom,["message"]`}},
		{"connect error from client", []string{`4{"message":"x"}`}},
		{"binary when none is expected", []string{"bin:1"}},
		{"text while attachments are due", []string{`51-["message",{"_placeholder":true,"num":0}]`, `2["message"]`}},
		{"placeholder out of range", []string{`51-["message",{"_placeholder":true,"num":1}]`, "bin:1"}},
		{"placeholder without attachments", []string{`50-["message",{"_placeholder":true,"num":0}]`}},
		{"binary with zero attachments", []string{`50-["message"]`}},
		{"ack id too long", []string{`21234567890123456["message"]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, suiteServer(nil), session.HistoryConfig{})
			other := connectMain(r)
			c := connectMain(r)
			for _, m := range tc.msgs {
				if strings.HasPrefix(m, "bin:") {
					c.sendBinary(parseBytes(m[4:]))
				} else {
					c.send(m)
				}
			}
			c.rec.waitClosed(t)
			other.send(`2["message","still here"]`)
			other.expect(`2["message-back","still here"]`)
		})
	}
}

// TestAttachmentBytesBound closes a client whose attachments pass
// MaxAttachmentBytes before the packet completes.
func TestAttachmentBytesBound(t *testing.T) {
	t.Parallel()
	r := newRig(t, suiteServer(&Config{MaxAttachmentBytes: 8}), session.HistoryConfig{})
	c := connectMain(r)
	c.send(`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary(make([]byte, 5))
	if c.rec.isClosed() {
		t.Fatal("closed under the bound")
	}
	c.sendBinary(make([]byte, 5))
	c.rec.waitClosed(t)
}

// TestConnectTimeout closes a session that sends no CONNECT, and not one
// that did.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	// A second leaves a loaded machine time to run the joined client's
	// CONNECT before its own timeout; the idle one waits it out once.
	r := newRig(t, suiteServer(&Config{ConnectTimeout: time.Second}), session.HistoryConfig{})
	joined := connectMain(r)
	idle := r.open()
	if reason := idle.rec.waitClosed(t); reason != "connect timeout" {
		t.Fatalf("reason %q", reason)
	}
	// The joined one is still served after the idle one's timeout.
	joined.send(`2["message",1]`)
	joined.expect(`2["message-back",1]`)
	if joined.rec.isClosed() {
		t.Fatal("a joined client was closed")
	}
}

// TestAuthorizeRefuses answers a refused CONNECT with the embedder's
// message and data, and lets the client try again.
func TestAuthorizeRefuses(t *testing.T) {
	t.Parallel()
	srv := New(nil)
	srv.Of("/").Authorize(func(s *Socket) error {
		var a struct{ Token string }
		_ = json.Unmarshal(s.Auth(), &a)
		if a.Token != "good" {
			return &ConnectError{Message: "not authorized", Data: map[string]string{"why": "bad token"}}
		}
		return nil
	})
	r := newRig(t, srv, session.HistoryConfig{})
	c := r.open()
	c.send(`0{"token":"bad"}`)
	c.expect(`4{"message":"not authorized","data":{"why":"bad token"}}`)
	c.send(`0{"token":"good"}`)
	c.expectPrefix(`0{"sid":"`)
}
