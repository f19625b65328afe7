package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Clients of the HTTP transports for the tests: a small SSE reader, readers
// of NDJSON, multipart and forever-iframe streams over a raw TCP connection
// (so that a test controls its deadlines and can drop it), and polls over
// net/http.

// wireObj is any JSON object an HTTP transport carries: a publication's
// envelope (no op) or one of the transport's own objects.
type wireObj struct {
	Op      string          `json:"op"`
	Topic   *string         `json:"topic"`
	Epoch   string          `json:"epoch"`
	Offset  uint64          `json:"offset"`
	Data    *string         `json:"data"`
	DataB64 string          `json:"data_b64"`
	SID     string          `json:"sid"`
	ID      json.RawMessage `json:"id"`
	Error   string          `json:"error"`
}

// isPub reports whether o is a publication's envelope.
func (o wireObj) isPub() bool { return o.Op == "" && o.Topic != nil }

// topic returns the object's topic, or "".
func (o wireObj) topic() string {
	if o.Topic == nil {
		return ""
	}
	return *o.Topic
}

// payload returns the object's data, decoding data_b64.
func (o wireObj) payload() []byte {
	if o.Data != nil {
		return []byte(*o.Data)
	}
	b, _ := base64.StdEncoding.DecodeString(o.DataB64)
	return b
}

func (o wireObj) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// decodeObj decodes one object strictly: the whole text is one JSON value.
func decodeObj(b []byte) (wireObj, error) {
	var o wireObj
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&o); err != nil {
		return o, fmt.Errorf("decoding %q: %w", b, err)
	}
	if d.More() {
		return o, fmt.Errorf("trailing bytes after object in %q", b)
	}
	return o, nil
}

// pushServer runs a push server (envelope subprotocol offered) for the
// test's lifetime.
func pushServer(t testing.TB, pc *server.PushConfig, cfg server.Config) (*server.Server, string) {
	t.Helper()
	if len(cfg.Protocols) == 0 {
		cfg.Protocols = []string{"c1m.v1.json"}
	}
	return start(t, server.NewPush(pc), cfg)
}

// keepHistory keeps the last n publications of every topic.
func keepHistory(n int) session.HistoryConfig { return session.HistoryConfig{Size: n} }

// publishRange publishes "<prefix><i>" for i in [from, to) to topic and
// checks the offsets follow on from the topic's position before.
func publishRange(t testing.TB, srv *server.Server, topic, prefix string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := srv.Hub().Publish(topic, fmt.Appendf(nil, "%s%d", prefix, i)); err != nil {
			t.Fatalf("publish %s %d: %v", topic, i, err)
		}
	}
}

// waitFor waits until cond holds, checking it every millisecond, and fails
// the test when it does not within wstest.Timeout. It waits on a state the
// server shows, never for a fixed time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wstest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// sessions returns the server's open sessions.
func sessions(srv *server.Server) int64 { return srv.Hub().Totals().Sessions }

// httpStream is a streaming response (SSE, NDJSON, multipart or forever
// iframe) read over a raw connection.
type httpStream struct {
	t    testing.TB
	nc   net.Conn
	resp *http.Response
	next func() (wireObj, string, error) // the next object and its SSE id
	raw  bytes.Buffer                    // iframe: every script body read, for escape checks
	sse  *sseReader                      // SSE: the event reader
	br   *bufio.Reader                   // SSE, NDJSON, iframe: the body's reader
	sid  string                          // from the open object
}

// openStream opens a stream at path (with its query) with extra header
// lines, expects 200 and reads the open object.
func openStream(t testing.TB, addr, path, extra string) *httpStream {
	t.Helper()
	s := dialStream(t, addr, path, extra)
	if s.resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(s.resp.Body, 512))
		t.Fatalf("GET %s: status %d %q", path, s.resp.StatusCode, body)
	}
	o := s.must()
	if o.Op != "open" || o.SID == "" {
		t.Fatalf("GET %s: first object %v, want open with a sid", path, o)
	}
	s.sid = o.SID
	return s
}

// dialStream sends GET path and reads the response head.
func dialStream(t testing.TB, addr, path, extra string) *httpStream {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	s := &httpStream{t: t, nc: nc}
	if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", path, extra); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	br := bufio.NewReader(nc)
	s.resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if s.resp.StatusCode != http.StatusOK {
		return s
	}
	ct, params, _ := mime.ParseMediaType(s.resp.Header.Get("Content-Type"))
	switch ct {
	case "text/event-stream":
		r := newSSEReader(s.resp.Body)
		s.sse, s.br = r, r.r
		s.next = func() (wireObj, string, error) {
			ev, err := r.Next()
			if err != nil {
				return wireObj{}, "", err
			}
			o, err := decodeObj([]byte(ev.Data))
			// Events are named by op, but for the two EventSource names
			// (PROTOCOL.md): open is "session", message is "direct".
			want := map[string]string{"open": "session", "message": "direct"}[o.Op]
			if want == "" {
				want = o.Op
			}
			if err == nil && o.Op != "" && ev.Event != want {
				err = fmt.Errorf("event %q carries op %q", ev.Event, o.Op)
			}
			if err == nil && o.Op == "" && ev.Event != "" {
				err = fmt.Errorf("publication in an event named %q", ev.Event)
			}
			return o, ev.ID, err
		}
	case "application/x-ndjson":
		r := bufio.NewReader(s.resp.Body)
		s.br = r
		s.next = func() (wireObj, string, error) {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return wireObj{}, "", err
			}
			o, err := decodeObj(line)
			return o, "", err
		}
	case "multipart/x-mixed-replace":
		mr := multipart.NewReader(s.resp.Body, params["boundary"])
		s.next = func() (wireObj, string, error) {
			p, err := mr.NextPart()
			if err != nil {
				return wireObj{}, "", err
			}
			if ct := p.Header.Get("Content-Type"); ct != "application/json" {
				return wireObj{}, "", fmt.Errorf("part Content-Type %q", ct)
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return wireObj{}, "", err
			}
			o, err := decodeObj(b)
			return o, "", err
		}
	case "text/html":
		r := bufio.NewReader(s.resp.Body)
		s.br = r
		s.next = func() (wireObj, string, error) { return s.nextScript(r) }
	default:
		t.Fatalf("GET %s: unexpected Content-Type %q", path, s.resp.Header.Get("Content-Type"))
	}
	return s
}

// iframeCallback is the callback the iframe tests name.
const iframeCallback = "c1m.f"

// nextScript reads the forever iframe up to its next script, which must be
// exactly a call of iframeCallback with one JSON object.
func (s *httpStream) nextScript(r *bufio.Reader) (wireObj, string, error) {
	const open, end = "<script>parent." + iframeCallback + "(", ");</script>"
	var seen []byte
	for !bytes.HasSuffix(seen, []byte(open)) {
		b, err := r.ReadByte()
		if err != nil {
			return wireObj{}, "", err
		}
		seen = append(seen, b)
	}
	if i := bytes.Index(seen, []byte("<script")); i != len(seen)-len(open) {
		return wireObj{}, "", fmt.Errorf("stray script before the call: %q", seen)
	}
	var body []byte
	for !bytes.HasSuffix(body, []byte(end)) {
		b, err := r.ReadByte()
		if err != nil {
			return wireObj{}, "", err
		}
		body = append(body, b)
	}
	body = body[:len(body)-len(end)]
	s.raw.Write(body)
	s.raw.WriteByte('\n')
	o, err := decodeObj(body)
	return o, "", err
}

// read returns the next object and its SSE id.
func (s *httpStream) read() (wireObj, string, error) {
	_ = s.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	return s.next()
}

// must returns the next object, failing the test on error.
func (s *httpStream) must() wireObj {
	s.t.Helper()
	o, _, err := s.read()
	if err != nil {
		s.t.Fatalf("reading the stream: %v", err)
	}
	return o
}

// mustID returns the next object and its SSE id.
func (s *httpStream) mustID() (wireObj, string) {
	s.t.Helper()
	o, id, err := s.read()
	if err != nil {
		s.t.Fatalf("reading the stream: %v", err)
	}
	return o, id
}

// expectStart reads a subscribed (or reset, when reset) object for topic.
func (s *httpStream) expectStart(topic string, reset bool) wireObj {
	s.t.Helper()
	o := s.must()
	want := "subscribed"
	if reset {
		want = "reset"
	}
	if o.Op != want || o.topic() != topic || o.Epoch == "" {
		s.t.Fatalf("got %v, want %s of %q", o, want, topic)
	}
	return o
}

// expectPubs reads the publications "<prefix><i>" for i in [from, to) of
// topic, at offsets off, off+1...; it returns the last one's SSE id.
func (s *httpStream) expectPubs(topic, prefix string, from, to int, off uint64) string {
	s.t.Helper()
	var id string
	for i := from; i < to; i++ {
		var o wireObj
		o, id = s.mustID()
		if !o.isPub() || o.topic() != topic || o.Offset != off || string(o.payload()) != fmt.Sprint(prefix, i) {
			s.t.Fatalf("got %v, want %s%d at offset %d of %q", o, prefix, i, off, topic)
		}
		off++
	}
	return id
}

// close drops the connection.
func (s *httpStream) close() { s.nc.Close() }

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	Event, Data, ID string
}

// sseReader parses an event stream as the WHATWG HTML standard says a
// browser does: lines end in CR, LF or CRLF; a blank line dispatches the
// event built so far; comment lines are ignored; the last event id
// persists across events.
type sseReader struct {
	r        *bufio.Reader
	lastID   string
	retry    string
	comments int // comment lines seen (heartbeats)
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReader(r)} }

// line reads one line without its end.
func (r *sseReader) line() (string, error) {
	var b []byte
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := r.r.Peek(1); err == nil && next[0] == '\n' {
				_, _ = r.r.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// Next returns the next dispatched event.
func (r *sseReader) Next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	for {
		l, err := r.line()
		if err != nil {
			return ev, err
		}
		if l == "" {
			if data == nil {
				ev = sseEvent{}
				continue // nothing to dispatch
			}
			ev.Data, ev.ID = strings.Join(data, "\n"), r.lastID
			return ev, nil
		}
		if l[0] == ':' {
			r.comments++
			continue
		}
		field, value, _ := strings.Cut(l, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		case "id":
			if !strings.Contains(value, "\x00") {
				r.lastID = value
			}
		case "retry":
			r.retry = value
		}
	}
}

// pollReply is a poll's answer.
type pollReply struct {
	Cursor   string            `json:"cursor"`
	Messages []json.RawMessage `json:"messages"`
	More     bool              `json:"more"`
}

// objects decodes the reply's messages.
func (p pollReply) objects(t testing.TB) []wireObj {
	t.Helper()
	out := make([]wireObj, len(p.Messages))
	for i, m := range p.Messages {
		o, err := decodeObj(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = o
	}
	return out
}

// httpClient is the net/http client of the poll tests.
var httpClient = &http.Client{Timeout: wstest.Timeout}

// poll GETs /poll with query and decodes the reply, which must be 200.
func poll(t testing.TB, addr string, query url.Values) pollReply {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + "/poll?" + query.Encode())
	if err != nil {
		t.Fatalf("poll %v: %v", query, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll %v: status %d %q", query, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("poll %v: Content-Type %q", query, ct)
	}
	var r pollReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("poll %v: %q: %v", query, body, err)
	}
	if r.Cursor == "" {
		t.Fatalf("poll %v: no cursor in %q", query, body)
	}
	return r
}

// rawConn is a raw HTTP client connection for requests the tests write
// byte by byte.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) write(b string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(b)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads one complete response to a request with method, and its
// body.
func (c *rawConn) response(method string) (*http.Response, []byte) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	return resp, body
}

// expectEOF expects the server to end the connection, with nothing more
// to read.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	rest, err := io.ReadAll(c.br)
	if err != nil && !strings.Contains(err.Error(), "connection reset") {
		c.t.Fatalf("waiting for the end of the connection: %v", err)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected bytes before the end: %q", rest)
	}
}
