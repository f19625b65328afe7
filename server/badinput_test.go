package server_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestBadRequests covers the HTTP rows of DESIGN.md's bad-input table: each
// request gets its precise status, and a healthy session on the same server
// keeps working afterwards.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	h := &echoHandler{connect: func(r *server.Request) error {
		if r.Query().Get("token") == "bad" {
			return server.Reject(http.StatusUnauthorized, "bad token")
		}
		return nil
	}}
	_, addr := start(t, h, server.Config{Timing: fastTiming, MaxHead: 1024})
	healthy := wstest.Upgrade(t, addr, "/ws")

	cases := []struct {
		name   string
		req    string
		status int
		header string // a header the answer must carry, "Name: value"
	}{
		{"head over the limit", "GET /ws HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431, ""},
		{"malformed request line", "GET\r\n\r\n", 400, ""},
		{"unknown path", strings.Replace(wstest.Request("/nope", ""), "/nope", "/nope", 1), 404, ""},
		{"plain GET on the WebSocket path", "GET /ws HTTP/1.1\r\nHost: test\r\n\r\n", 426, "Sec-Websocket-Version: 13"},
		{"wrong version", strings.Replace(wstest.Request("/ws", ""), "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version: 13"},
		{"bad key", strings.Replace(wstest.Request("/ws", ""), wstest.Key, "short", 1), 400, ""},
		{"missing key", strings.Replace(wstest.Request("/ws", ""), "Sec-WebSocket-Key: "+wstest.Key+"\r\n", "", 1), 400, ""},
		{"POST upgrade", strings.Replace(wstest.Request("/ws", ""), "GET", "POST", 1), 405, ""},
		{"cross-origin", wstest.Request("/ws", "Origin: http://evil.example\r\n"), 403, ""},
		{"auth rejected", wstest.Request("/ws?token=bad", ""), 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr)
			c.Write([]byte(tc.req))
			resp := c.Response()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.header != "" {
				k, v, _ := strings.Cut(tc.header, ": ")
				if got := resp.Header.Get(k); got != v {
					t.Fatalf("%s: %q, want %q", k, got, v)
				}
			}
			c.ExpectEOF()
		})
	}
	t.Cleanup(func() { healthy.Echo("still here") })
}

// TestSameOriginAllowed: the default origin policy lets a page talk to its
// own host.
func TestSameOriginAllowed(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{})
	c := wstest.Dial(t, addr)
	c.Write([]byte(wstest.Request("/ws", "Origin: http://test\r\n")))
	if resp := c.Response(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("same-origin upgrade: status %d", resp.StatusCode)
	}
	c.Echo("ok")
}

// TestHandshakeDeadline: a request head that never completes is closed at
// the handshake deadline, without an answer, and not before it: the
// deadline is kept to the tick, the wheel's resolution.
func TestHandshakeDeadline(t *testing.T) {
	t.Parallel()
	timing := session.Config{Tick: 50 * time.Millisecond, HandshakeTimeout: time.Second}
	_, addr := start(t, nil, server.Config{Timing: timing})
	began := time.Now()
	c := wstest.Dial(t, addr)
	c.Write([]byte("GET /ws HTTP/1.1\r\nHost: te"))
	_ = c.Net().SetReadDeadline(time.Now().Add(wstest.Timeout))
	rest, err := io.ReadAll(c.Net())
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("waiting for the deadline: %v", err)
	}
	if len(rest) > 0 {
		t.Fatalf("a partial head was answered: %q", rest)
	}
	if held, least := time.Since(began), timing.HandshakeTimeout-timing.Tick; held < least {
		t.Fatalf("closed after %v, before the handshake deadline (%v less a tick)", held, timing.HandshakeTimeout)
	}
}

// TestBadFrames covers the frame rows of the bad-input table: each violation
// gets its close code, then the server closes the connection, and a healthy
// session on the same loops is unaffected.
func TestBadFrames(t *testing.T) {
	t.Parallel()
	_, addr := start(t, nil, server.Config{Timing: fastTiming, MaxFrame: testMaxFrame, MaxMessage: testMaxMessage})
	healthy := wstest.Upgrade(t, addr, "/ws")
	unmasked := []byte{0x81, 0x02, 'h', 'i'}
	big := wstest.Masked(true, 0, codec.OpBinary, make([]byte, testMaxFrame+1))

	cases := []struct {
		name  string
		bytes []byte
		code  codec.StatusCode
	}{
		{"unmasked frame", unmasked, codec.StatusProtocolError},
		{"reserved opcode 3", wstest.Masked(true, 0, 3, nil), codec.StatusProtocolError},
		{"reserved opcode 0xB", wstest.Masked(true, 0, 0xB, nil), codec.StatusProtocolError},
		{"RSV1 without extension", wstest.Masked(true, 0b100, codec.OpText, []byte("x")), codec.StatusProtocolError},
		{"RSV3", wstest.Masked(true, 0b001, codec.OpText, []byte("x")), codec.StatusProtocolError},
		{"fragmented ping", wstest.Masked(false, 0, codec.OpPing, nil), codec.StatusProtocolError},
		{"ping over 125 bytes", wstest.Masked(true, 0, codec.OpPing, make([]byte, 126)), codec.StatusProtocolError},
		{"continuation first", wstest.Masked(true, 0, codec.OpContinuation, []byte("x")), codec.StatusProtocolError},
		{"text inside fragmented text", append(wstest.Masked(false, 0, codec.OpText, []byte("a")), wstest.Text("b")...), codec.StatusProtocolError},
		{"invalid UTF-8", wstest.Text("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), codec.StatusInvalidPayload},
		{"invalid UTF-8 in close reason", wstest.Close(1000, "\xff"), codec.StatusInvalidPayload},
		{"invalid close code", wstest.Close(1005, ""), codec.StatusProtocolError},
		// Only the header is sent: the decision comes before the payload.
		{"frame over the limit", big[:14], codec.StatusMessageTooBig},
		{"message over the limit", append(append(
			wstest.Masked(false, 0, codec.OpBinary, make([]byte, testMaxFrame)),
			bytesRepeat(wstest.Masked(false, 0, codec.OpContinuation, make([]byte, testMaxFrame)), 3)...),
			wstest.Masked(true, 0, codec.OpContinuation, make([]byte, 1))[:6]...), codec.StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := wstest.Upgrade(t, addr, "/ws")
			c.Write(tc.bytes)
			c.ExpectClose(tc.code)
		})
	}
	t.Cleanup(func() { healthy.Echo("still here") })
}

func bytesRepeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}
