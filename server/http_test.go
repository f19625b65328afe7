package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// streamPaths are the streaming transports, by the path (and query) that
// opens them on topic T.
var streamPaths = []struct {
	name, path, contentType string
}{
	{"sse", "/sse?", "text/event-stream; charset=utf-8"},
	{"ndjson", "/stream?", "application/x-ndjson; charset=utf-8"},
	{"multipart", "/stream?format=multipart&", "multipart/x-mixed-replace; boundary=c1m"},
	{"iframe", "/iframe?callback=" + iframeCallback + "&", "text/html; charset=utf-8"},
}

// TestStreamsInOrder: every streaming transport delivers a topic's
// publications in order, each as soon as it is written (the reader needs
// nothing after it), in a chunked response with the stream's headers.
func TestStreamsInOrder(t *testing.T) {
	t.Parallel()
	const n = 50
	srv, addr := pushServer(t, nil, server.Config{})
	for _, tc := range streamPaths {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := "order-" + tc.name
			s := openStream(t, addr, tc.path+"topic="+topic, "")
			h := s.resp.Header
			if got := h.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := h.Get("Cache-Control"); !strings.Contains(got, "no-cache") {
				t.Errorf("Cache-Control %q", got)
			}
			if h.Get("X-Accel-Buffering") != "no" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("missing stream headers: %v", h)
			}
			// SSE is close-delimited (its events frame themselves); the
			// other streams are chunked.
			if chunked := len(s.resp.TransferEncoding) == 1 && s.resp.TransferEncoding[0] == "chunked"; chunked == (tc.name == "sse") {
				t.Errorf("Transfer-Encoding %v on %s", s.resp.TransferEncoding, tc.name)
			}
			if !s.resp.Close {
				t.Errorf("no Connection: close on a stream, which is its connection's last response")
			}
			s.expectStart(topic, false)
			// One at a time: each must be readable before the next is
			// published.
			for i := range n {
				publishRange(t, srv, topic, "m", i, i+1)
				s.expectPubs(topic, "m", i, i+1, uint64(i+1))
			}
			if s.sse != nil && s.sse.retry != "2000" {
				t.Errorf("SSE retry %q, want 2000", s.sse.retry)
			}
		})
	}
}

// TestStreamsPayloads: binary payloads arrive as data_b64 and text ones
// as data, whatever they hold, and a broadcast reaches every stream (topic
// "", offset 0).
func TestStreamsPayloads(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{})
	payloads := [][]byte{
		{0xff, 0x00, 0x01},
		[]byte("</script><script>alert(1)</script>"),
		[]byte(`"quoted" 'single' \back\slash`),
		[]byte("line\u2028sep\u2029para\r\nCRLF\x00nul"),
		[]byte("<!-- --><![CDATA[ ]]>&amp;"),
	}
	streams := make([]*httpStream, len(streamPaths))
	for i, tc := range streamPaths {
		streams[i] = openStream(t, addr, tc.path+"topic=payloads", "")
		streams[i].expectStart("payloads", false)
	}
	for _, p := range payloads {
		if _, err := srv.Hub().Publish("payloads", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Hub().Broadcast([]byte("to all")); err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		for k, p := range payloads {
			o := s.must()
			if !o.isPub() || !bytes.Equal(o.payload(), p) || o.Offset != uint64(k+1) {
				t.Fatalf("%s: got %v, want %q at offset %d", streamPaths[i].name, o, p, k+1)
			}
			if binary := !isUTF8(p); binary != (o.Data == nil) {
				t.Fatalf("%s: %v: binary payload %v, data_b64 %v", streamPaths[i].name, o, binary, o.Data == nil)
			}
		}
		if o := s.must(); !o.isPub() || o.topic() != "" || o.Offset != 0 || string(o.payload()) != "to all" {
			t.Fatalf("%s: got %v, want the broadcast", streamPaths[i].name, o)
		}
	}
	// The iframe's scripts cannot be broken out of: no '<' at all (so no
	// </script> and no <!--), no raw line or paragraph separator (which
	// end a JavaScript line before ES2019).
	raw := streams[3].raw.String()
	for _, bad := range []string{"<", "\u2028", "\u2029"} {
		if strings.Contains(raw, bad) {
			t.Fatalf("iframe script bodies hold %q: %s", bad, raw)
		}
	}
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// TestJSONP: a JSONP poll calls the callback with the poll's reply, as
// JavaScript that browsers will not sniff as anything else; a server
// without JSONP refuses it (403), and a callback that is not a dotted path
// of identifiers is refused (400) either way.
func TestJSONP(t *testing.T) {
	t.Parallel()
	srv, on := pushServer(t, nil, server.Config{JSONP: true})
	_, off := pushServer(t, nil, server.Config{})
	publishRange(t, srv, "jsonp", "m", 0, 1)

	t.Run("reply", func(t *testing.T) {
		t.Parallel()
		for _, cb := range []string{"cb", "a.b_c.$d", "_jp0"} {
			c := dialRaw(t, on)
			c.write("GET /poll?topic=jsonp&wait=0&callback=" + url.QueryEscape(cb) + " HTTP/1.1\r\nHost: test\r\n\r\n")
			resp, body := c.response(http.MethodGet)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d %q", cb, resp.StatusCode, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/javascript; charset=utf-8" {
				t.Fatalf("%s: Content-Type %q", cb, got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Fatalf("%s: X-Content-Type-Options %q", cb, got)
			}
			inner, ok := bytes.CutPrefix(body, []byte(cb+"("))
			if inner, ok2 := bytes.CutSuffix(inner, []byte(");\n")); !ok || !ok2 || !bytes.HasPrefix(inner, []byte(`{"cursor":"`)) {
				t.Fatalf("%s: body %q, want %s({...});", cb, body, cb)
			}
		}
	})
	cases := []struct {
		name   string
		addr   string
		query  string
		status int
	}{
		{"off", off, "callback=cb", http.StatusForbidden},
		{"statement", on, "callback=alert(1);x", http.StatusBadRequest},
		{"statement escaped", on, "callback=alert(1)%3Bx", http.StatusBadRequest},
		{"empty segment", on, "callback=a..b", http.StatusBadRequest},
		{"trailing dot", on, "callback=a.", http.StatusBadRequest},
		{"leading digit", on, "callback=1a", http.StatusBadRequest},
		{"markup", on, "callback=%3Cscript%3E", http.StatusBadRequest},
		{"empty", on, "callback=", http.StatusBadRequest},
		{"hostile, off", off, "callback=a..b", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, tc.addr)
			c.write("GET /poll?topic=jsonp&wait=0&" + tc.query + " HTTP/1.1\r\nHost: test\r\n\r\n")
			if resp, body := c.response(http.MethodGet); resp.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
}

// TestCORS: cross-origin requests from an allowed origin get their origin
// echoed with credentials, preflights get 204 with the methods and
// headers the transports use, and other origins get 403; HEAD answers
// without a body.
func TestCORS(t *testing.T) {
	t.Parallel()
	_, addr := pushServer(t, nil, server.Config{AllowedOrigins: []string{"app.example", "*.good.example"}, MaxMessage: 64})
	const app = "https://app.example"
	cases := []struct {
		name, method, path, origin string
		status                     int
		echoed                     bool
		extra                      string // more request lines and the body
	}{
		// Error answers to an allowed origin carry CORS too, so that the
		// page reads their status, not a network error.
		{"bad cursor", http.MethodGet, "/poll?cursor=!", app, http.StatusBadRequest, true, ""},
		{"bad callback", http.MethodGet, "/iframe?callback=1", app, http.StatusBadRequest, true, ""},
		{"wrong method, allowed origin", http.MethodPut, "/poll", app, http.StatusMethodNotAllowed, true, ""},
		{"body over the limit", http.MethodPost, "/send?sid=x", app, http.StatusRequestEntityTooLarge, true, "Content-Length: 65\r\n"},
		{"bad chunked body", http.MethodPost, "/send?sid=x", app, http.StatusBadRequest, true, "Transfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"unknown sid", http.MethodPost, "/send?sid=x", app, http.StatusNotFound, true, "Content-Length: 2\r\n\r\n{}"},
		{"preflight poll", http.MethodOptions, "/poll", "https://app.example", http.StatusNoContent, true, ""},
		{"preflight send", http.MethodOptions, "/send?sid=x", "https://a.good.example", http.StatusNoContent, true, ""},
		{"poll", http.MethodGet, "/poll?topic=cors&wait=0", "https://app.example", http.StatusOK, true, ""},
		{"head poll", http.MethodHead, "/poll?topic=cors", "https://app.example", http.StatusOK, true, ""},
		{"head sse", http.MethodHead, "/sse?topic=cors", "", http.StatusOK, false, ""},
		{"no origin", http.MethodGet, "/poll?topic=cors&wait=0", "", http.StatusOK, false, ""},
		{"disallowed poll", http.MethodGet, "/poll?topic=cors&wait=0", "https://evil.example", http.StatusForbidden, false, ""},
		{"disallowed preflight", http.MethodOptions, "/poll", "https://evil.example", http.StatusForbidden, false, ""},
		{"disallowed sse", http.MethodGet, "/sse?topic=cors", "https://app.example.evil", http.StatusForbidden, false, ""},
		{"wrong method", http.MethodPost, "/poll", "", http.StatusMethodNotAllowed, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, addr)
			extra := ""
			if tc.origin != "" {
				extra = "Origin: " + tc.origin + "\r\n"
			}
			if tc.method == http.MethodOptions {
				extra += "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n"
			}
			if tc.extra == "" {
				extra += "\r\n"
			} else if !strings.Contains(tc.extra, "\r\n\r\n") {
				extra += tc.extra + "\r\n"
			} else {
				extra += tc.extra
			}
			c.write(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: test\r\n" + extra)
			resp, body := c.response(tc.method)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			h := resp.Header
			if tc.echoed {
				if h.Get("Access-Control-Allow-Origin") != tc.origin || h.Get("Access-Control-Allow-Credentials") != "true" {
					t.Fatalf("CORS headers %v, want %s echoed with credentials", h, tc.origin)
				}
				if !strings.Contains(h.Get("Vary"), "Origin") {
					t.Fatalf("Vary %q, want Origin", h.Get("Vary"))
				}
			} else if h.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("Access-Control-Allow-Origin %q for origin %q", h.Get("Access-Control-Allow-Origin"), tc.origin)
			}
			if tc.method == http.MethodOptions && tc.status == http.StatusNoContent {
				if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") || !strings.Contains(m, "POST") {
					t.Fatalf("Access-Control-Allow-Methods %q", m)
				}
				if a := strings.ToLower(h.Get("Access-Control-Allow-Headers")); !strings.Contains(a, "last-event-id") {
					t.Fatalf("Access-Control-Allow-Headers %q", a)
				}
			}
			if tc.method == http.MethodHead && len(body) != 0 {
				t.Fatalf("HEAD answered with a body %q", body)
			}
		})
	}
}

// TestStreamsEndOnShutdown: a server shutting down ends each stream with
// its last bytes and the chunked body's end: a well-formed multipart body
// (close delimiter) and HTML document, not a cut connection.
func TestStreamsEndOnShutdown(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{DrainSpread: -1})
	streams := make([]*httpStream, len(streamPaths))
	for i, tc := range streamPaths {
		streams[i] = dialStream(t, addr, tc.path+"topic=end", "")
	}
	waitFor(t, "the streams to open", func() bool { return sessions(srv) == int64(len(streamPaths)) })
	publishRange(t, srv, "end", "m", 0, 2)
	// Each client reads to the end and leaves, as an HTTP client does
	// when the server ends the response; the server waits for that.
	bodies := make([]chan []byte, len(streams))
	for i, s := range streams {
		bodies[i] = make(chan []byte, 1)
		go func() {
			defer s.close()
			_ = s.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
			body, err := io.ReadAll(s.resp.Body)
			if err != nil {
				t.Errorf("%s: %v after %q, want the end of the chunked body", streamPaths[i].name, err, body)
			}
			bodies[i] <- body
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && err != server.ErrServerClosed {
		t.Fatal(err)
	}
	for i := range streams {
		body := <-bodies[i]
		switch streamPaths[i].name {
		case "multipart":
			mr := multipart.NewReader(bytes.NewReader(body), "c1m")
			objects := 0
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("multipart: %v in %q", err, body)
				}
				if b, _ := io.ReadAll(p); len(b) > 0 {
					objects++
				}
			}
			if objects != 4 { // open, subscribed, two publications
				t.Fatalf("multipart: %d objects in %q", objects, body)
			}
		case "iframe":
			if !bytes.HasSuffix(body, []byte("</body></html>\n")) {
				t.Fatalf("iframe: document ends with %q", body[max(0, len(body)-40):])
			}
		}
	}
}

// TestStreamHeartbeat: an idle stream gets a heartbeat every ping
// interval from the timing wheel (an SSE comment, an NDJSON or multipart
// ping object, an HTML comment in the iframe), and stays open though its
// client never answers.
func TestStreamHeartbeat(t *testing.T) {
	t.Parallel()
	timing := session.Config{Tick: 10 * time.Millisecond, PingInterval: 30 * time.Millisecond, PongTimeout: 30 * time.Millisecond}
	srv, addr := pushServer(t, nil, server.Config{Timing: timing})
	const beats = 3
	for _, tc := range streamPaths {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := "beat-" + tc.name
			s := openStream(t, addr, tc.path+"topic="+topic, "")
			s.expectStart(topic, false)
			switch tc.name {
			case "sse", "iframe":
				// After the last script's "</script>", its newline.
				marker := map[string]string{"sse": ":\n\n", "iframe": "\n<!---->"}[tc.name]
				s.expectRaw(strings.Repeat(marker, beats))
			default:
				for range beats {
					if o := s.must(); o.Op != "ping" {
						t.Fatalf("got %v, want a ping", o)
					}
				}
			}
			publishRange(t, srv, topic, "m", 0, 1)
			// Heartbeats go on meanwhile (every 30 ms): skip them.
			for {
				o := s.must()
				if o.Op == "ping" {
					continue
				}
				if !o.isPub() || o.topic() != topic || o.Offset != 1 || string(o.payload()) != "m0" {
					t.Fatalf("got %v, want m0 at offset 1 of %q", o, topic)
				}
				break
			}
		})
	}
}

// expectRaw reads exactly want from the body (with its chunk framing
// removed).
func (s *httpStream) expectRaw(want string) {
	s.t.Helper()
	_ = s.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(s.br, got); err != nil || string(got) != want {
		s.t.Fatalf("read %q (%v), want %q", got, err, want)
	}
}

// TestStreamHTTP10: an HTTP/1.0 client, which knows no chunked encoding,
// gets the stream close-delimited.
func TestStreamHTTP10(t *testing.T) {
	t.Parallel()
	srv, addr := pushServer(t, nil, server.Config{})
	c := dialRaw(t, addr)
	c.write("GET /stream?topic=old HTTP/1.0\r\n\r\n")
	_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 0 || !resp.Close || resp.ContentLength != -1 {
		t.Fatalf("status %d, Transfer-Encoding %v, close %v, length %d: want a close-delimited 200",
			resp.StatusCode, resp.TransferEncoding, resp.Close, resp.ContentLength)
	}
	lines := bufio.NewReader(resp.Body)
	for _, want := range []string{`{"op":"open"`, `{"op":"subscribed"`, `{"topic":"old","offset":1`} {
		if want == `{"topic":"old","offset":1` {
			publishRange(t, srv, "old", "m", 0, 1)
		}
		line, err := lines.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, want) {
			t.Fatalf("line %q (%v), want %s...", line, err, want)
		}
	}
}
