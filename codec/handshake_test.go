package codec

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3

func upgradeHead(extra string) string {
	return "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + sampleKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

func TestHeadLen(t *testing.T) {
	t.Parallel()
	head := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name  string
		in    string
		limit int
		n     int
		err   error
	}{
		{"complete", head, 64, len(head), nil},
		{"with pipelined bytes", head + "\x81\x80", 64, len(head), nil},
		{"incomplete", head[:len(head)-1], 64, 0, nil},
		{"end exactly at the limit", head, len(head), len(head), nil},
		{"over the limit", head, len(head) - 1, 0, ErrHeadTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := HeadLen([]byte(tc.in), 0, tc.limit)
			if n != tc.n || err != tc.err {
				t.Fatalf("HeadLen = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
			// Incremental: the same answer when the bytes arrive one by one
			// and each call resumes where the previous one stopped.
			from := 0
			for i := 1; i <= len(tc.in); i++ {
				n, err = HeadLen([]byte(tc.in[:i]), from, tc.limit)
				if n != 0 || err != nil {
					break
				}
				from = i
			}
			if n != tc.n || err != tc.err {
				t.Fatalf("incremental HeadLen = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	r, err := ParseRequest([]byte("GET /ws?topic=a&topic=b HTTP/1.1\r\nHost: x\r\nconnection: keep-alive, Upgrade\r\nUPGRADE: WebSocket\r\nX-Empty:\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Method) != "GET" || string(r.Path) != "/ws" || string(r.RawQuery) != "topic=a&topic=b" || r.Minor != 1 {
		t.Fatalf("parsed %q %q %q %d", r.Method, r.Path, r.RawQuery, r.Minor)
	}
	if string(r.Header("host")) != "x" || !r.HasToken("Connection", "upgrade") || !r.IsWebSocketUpgrade() || r.Header("X-Missing") != nil {
		t.Fatal("header lookups")
	}
	// Only spaces and tabs are optional whitespace: "close\u0085" is not
	// "close" (net/http reads it as another token too).
	r, err = ParseRequest([]byte("GET / HTTP/1.1\r\nConnection: \tclose\u0085\r\nX-Tab: a\tb\r\n\r\n"))
	if err != nil || r.HasToken("Connection", "close") || string(r.Header("X-Tab")) != "a\tb" {
		t.Fatalf("optional whitespace: %v, close %v, X-Tab %q", err, r.HasToken("Connection", "close"), r.Header("X-Tab"))
	}
	for _, bad := range []string{
		"GET\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / FTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		// A bare LF or CR, or another control byte, inside a value: other
		// parsers would see a line break there (smuggling).
		"POST / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nX: a\rContent-Length: 5\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
	} {
		if _, err := ParseRequest([]byte(bad)); err != ErrMalformedRequest {
			t.Errorf("%q: %v, want ErrMalformedRequest", bad, err)
		}
	}
}

// handshake runs one handshake and parses the answer.
func handshake(t *testing.T, h *Handshaker, head string, before func() error) (*http.Response, Handshake, error) {
	t.Helper()
	var out bytes.Buffer
	hs, err := h.Upgrade([]byte(head), &out, before)
	resp, rerr := http.ReadResponse(bufio.NewReader(&out), nil)
	if rerr != nil {
		t.Fatalf("unreadable answer %q: %v", out.String(), rerr)
	}
	return resp, hs, err
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	h := NewHandshaker(HandshakeConfig{Protocols: []string{"c1m.v1.json", "chat"}, Deflate: &DeflateConfig{}})
	cases := []struct {
		name     string
		head     string
		status   int
		header   string // "Name: value" the answer must carry
		protocol string
		window   int
	}{
		{"RFC 6455 example", upgradeHead(""), 101, "Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "", 0},
		{"server's protocol preference", upgradeHead("Sec-WebSocket-Protocol: chat, c1m.v1.json\r\n"), 101, "Sec-Websocket-Protocol: c1m.v1.json", "c1m.v1.json", 0},
		{"unknown protocol", upgradeHead("Sec-WebSocket-Protocol: mqtt\r\n"), 101, "", "", 0},
		{"wrong version", strings.Replace(upgradeHead(""), "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version: 13", "", 0},
		{"no key", strings.Replace(upgradeHead(""), "Sec-WebSocket-Key: "+sampleKey+"\r\n", "", 1), 400, "", "", 0},
		{"short key", strings.Replace(upgradeHead(""), sampleKey, "abc", 1), 400, "", "", 0},
		{"no host", strings.Replace(upgradeHead(""), "Host: server.example.com\r\n", "", 1), 400, "", "", 0},
		{"POST", strings.Replace(upgradeHead(""), "GET", "POST", 1), 405, "", "", 0},
		{"HTTP/1.0", strings.Replace(upgradeHead(""), "HTTP/1.1", "HTTP/1.0", 1), 505, "", "", 0},
		{"deflate, no context takeover", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_no_context_takeover", "", 0},
		{"deflate, browser offer", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_max_window_bits=12", "", 1 << 12},
		{"deflate, client window 10", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_max_window_bits=10", "", 1 << 10},
		{"deflate, client window 8", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_max_window_bits=8", "", 1 << 8},
		{"deflate, bare offer: no client context beyond ClientWindowBits", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_no_context_takeover", "", 0},
		{"small server window accepted, first offer taken", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits\r\n"), 101,
			"Sec-Websocket-Extensions: permessage-deflate;server_no_context_takeover;client_no_context_takeover;server_max_window_bits=10", "", 0},
		{"invalid parameter declined", upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; foo=1\r\n"), 101, "Sec-Websocket-Extensions: ", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, hs, err := handshake(t, h, tc.head, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (err %v)", resp.StatusCode, tc.status, err)
			}
			if (err == nil) != (tc.status == 101) {
				t.Fatalf("err %v with status %d", err, resp.StatusCode)
			}
			if tc.header != "" {
				k, v, _ := strings.Cut(tc.header, ": ")
				if got := resp.Header.Get(k); got != v {
					t.Fatalf("%s: %q, want %q", k, got, v)
				}
			}
			if hs.Protocol != tc.protocol || hs.ClientWindow != tc.window {
				t.Fatalf("handshake %+v", hs)
			}
			if err != nil && RejectStatus(err) != tc.status {
				t.Fatalf("RejectStatus %d", RejectStatus(err))
			}
		})
	}
}

func TestHandshakeBefore(t *testing.T) {
	t.Parallel()
	h := NewHandshaker(HandshakeConfig{})
	for _, status := range []int{401, 403} {
		resp, _, err := handshake(t, h, upgradeHead(""), func() error { return Reject(status, "no") })
		if resp.StatusCode != status || RejectStatus(err) != status {
			t.Fatalf("status %d, err %v; want %d", resp.StatusCode, err, status)
		}
	}
	// A malformed request never reaches the callback.
	called := false
	handshake(t, h, strings.Replace(upgradeHead(""), "Version: 13", "Version: 7", 1), func() error { called = true; return nil })
	if called {
		t.Fatal("before ran for an invalid handshake")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	for code, valid := range map[StatusCode]bool{
		0: false, 999: false, 1000: true, 1003: true, 1004: false, 1005: false, 1006: false, 1007: true,
		1011: true, 1014: true, 1015: false, 1016: false, 2999: false, 3000: true, 4999: true, 5000: false,
	} {
		payload := []byte{byte(code >> 8), byte(code)}
		_, _, err := ParseClose(payload)
		if (err == nil) != valid {
			t.Errorf("code %d: err %v, want valid=%v", code, err, valid)
		}
	}
	reason := strings.Repeat("é", 100) // 200 bytes
	f := AppendClose(nil, 4000, reason)
	h, n, _ := DecodeHeader(f)
	code, got, err := ParseClose(f[n:])
	if h.Op != OpClose || h.Length > MaxControlPayload || code != 4000 || err != nil || !ValidUTF8(got) || len(got) != 122 {
		t.Fatalf("close frame %+v code %d reason %d bytes err %v", h, code, len(got), err)
	}
}
