package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wire speaks Engine.IO v4 by hand, over net/http and gorilla/websocket,
// to one path of one server: what the conformance tables send and read,
// byte for byte, with no Engine.IO or Socket.IO library in between.

// wireWait bounds every wait for an answer of the server. It is a hang
// guard only: the servers answer in milliseconds, or at the protocol's
// own times (pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1 s).
const wireWait = 10 * time.Second

// wire is one case's view of a server path. Loop-only in the sense of the
// tests: one goroutine (the case's) uses it.
type wire struct {
	t         *testing.T
	srv       sioServer
	path      string // "/engine.io/" or "/socket.io/"
	hc        *http.Client
	heartbeat [2]int // pingInterval, pingTimeout in ms, as the open packet says
}

func newWire(t *testing.T, srv sioServer, path string) *wire {
	tr := &http.Transport{MaxConnsPerHost: 0, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &wire{t: t, srv: srv, path: path, hc: &http.Client{Transport: tr, Timeout: wireWait}}
}

// eio4 is the query of a request of an established polling session.
func eio4(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// answer is an HTTP answer of the server, or the error that took its place.
type answer struct {
	what   string // the request, for messages
	status int
	body   string
	header http.Header
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("%s: %v", a.what, a.err)
	}
	return fmt.Sprintf("%s: %d %s", a.what, a.status, short(a.body))
}

// short quotes s, cut to its first 200 bytes.
func short(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", s[:200], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// do sends one request: method, the path's query, a body (none when
// empty) and header pairs.
func (w *wire) do(method, query, body string, header ...string) answer {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(w.t.Context(), method, w.srv.base+w.path+"?"+query, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	a := answer{what: method + " ?" + query}
	resp, err := w.hc.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a.status, a.body, a.header, a.err = resp.StatusCode, string(b), resp.Header, err
	return a
}

func (w *wire) get(query string) answer { w.t.Helper(); return w.do(http.MethodGet, query, "") }

// poll is a GET of session sid.
func (w *wire) poll(sid string) answer { w.t.Helper(); return w.get(eio4(sid)) }

// push is a POST of body to session sid.
func (w *wire) push(sid, body string, header ...string) answer {
	w.t.Helper()
	return w.do(http.MethodPost, eio4(sid), body, header...)
}

// is checks a's status and, unless body is anyBody, its body.
func (w *wire) is(a answer, status int, body string) {
	w.t.Helper()
	if a.err != nil || a.status != status || (body != anyBody && a.body != body) {
		want := fmt.Sprintf("%d %s", status, short(body))
		if body == anyBody {
			want = fmt.Sprint(status)
		}
		w.t.Fatalf("%s: %s, want %s", w.srv.name, a, want)
	}
}

// anyBody, as the body of is, checks the status alone.
const anyBody = "\x00any"

// handshake is the open packet's payload.
type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// checkOpen checks an open packet: type 0, exactly the five keys, and the
// server's settings (the suites': pingInterval 300, pingTimeout 200;
// maxPayload 1e6).
func (w *wire) checkOpen(packet string, upgrades []string) handshake {
	w.t.Helper()
	body, ok := strings.CutPrefix(packet, "0")
	var keys map[string]json.RawMessage
	var h handshake
	if !ok || json.Unmarshal([]byte(body), &keys) != nil || json.Unmarshal([]byte(body), &h) != nil {
		w.t.Fatalf("%s: open packet %q", w.srv.name, packet)
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(names, want) {
		w.t.Errorf("%s: open packet keys %q, want %q", w.srv.name, names, want)
	}
	if h.SID == "" || !slices.Equal(h.Upgrades, upgrades) || h.PingInterval != w.heartbeat[0] || h.PingTimeout != w.heartbeat[1] || h.MaxPayload != 1e6 {
		w.t.Errorf("%s: open packet %+v, want a sid, upgrades %q, %d, %d, 1000000", w.srv.name, h, upgrades, w.heartbeat[0], w.heartbeat[1])
	}
	return h
}

// open makes a polling handshake and returns the session id.
func (w *wire) open() string {
	w.t.Helper()
	a := w.get("EIO=4&transport=polling")
	w.is(a, http.StatusOK, anyBody)
	return w.checkOpen(a.body, []string{"websocket"}).SID
}

// raw sends a request by hand on a fresh TCP connection and returns the
// connection, for requests that net/http will not make: a poll abandoned
// midway, a POST whose body is still coming.
func (w *wire) raw(method, query string, header ...string) net.Conn {
	w.t.Helper()
	c := w.tcp()
	w.request(c, method, query, header...)
	return c
}

// tcp opens a TCP connection to the server, for requests by hand. A case
// dials it ahead, so that its request later reaches a server that has
// already accepted the connection.
func (w *wire) tcp() net.Conn {
	w.t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(w.srv.base, "http://"), wireWait)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

// request writes a request head on c.
func (w *wire) request(c net.Conn, method, query string, header ...string) {
	w.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s?%s HTTP/1.1\r\nHost: %s\r\n", method, w.path, query, strings.TrimPrefix(w.srv.base, "http://"))
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		w.t.Fatal(err)
	}
}

// gone checks that session sid has ended: polls answer 400 "Session ID
// unknown", after at most one poll that the ending session answered
// otherwise: with a close or noop packet, or with the bare 400 of an
// overlapping poll, when the server had not yet seen the end of the
// previous one (which answer comes depends on when the server saw the
// end; the reference gives each of them).
func (w *wire) gone(sid string) {
	w.t.Helper()
	a := w.poll(sid)
	if a.err == nil && (a.status == http.StatusOK && endingPackets(a.body) || a.status == http.StatusBadRequest && a.body == "") {
		a = w.poll(sid)
	}
	w.is(a, http.StatusBadRequest, eioUnknownSID)
}

// endingPackets reports whether a poll's body is only noop and close
// packets ("1", "6", "6\x1e1"...): what an ending session answers.
func endingPackets(body string) bool {
	for _, p := range strings.Split(body, "\x1e") {
		if p != "1" && p != "6" {
			return false
		}
	}
	return true
}

// raced runs one attempt of a case whose setup races two requests on two
// connections (which the server reads first is not the client's to
// decide) until attempt reports that the intended order happened, at most
// raceAttempts times.
func (w *wire) raced(what string, attempt func() bool) {
	w.t.Helper()
	for i := range raceAttempts {
		if attempt() {
			return
		}
		w.t.Logf("%s: attempt %d: the server read the requests the other way round", w.srv.name, i+1)
	}
	w.t.Fatalf("%s: in %d attempts the server never read %s", w.srv.name, raceAttempts, what)
}

const raceAttempts = 10

// rawAnswer reads the answer to a raw request.
func (w *wire) rawAnswer(c net.Conn, what string) answer {
	w.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wireWait))
	a := answer{what: what}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a.status, a.body, a.header, a.err = resp.StatusCode, string(b), resp.Header, err
	return a
}

// frame is a WebSocket message: text or binary.
type frame struct {
	binary bool
	data   string
}

func (f frame) String() string {
	if f.binary {
		return fmt.Sprintf("binary %v", []byte(f.data[:min(len(f.data), 64)]))
	}
	return short(f.data)
}

// wsWire is one WebSocket connection of a case. A goroutine reads it;
// with pong set it answers the server's pings ("2") itself and hides them.
type wsWire struct {
	w      *wire
	c      *websocket.Conn
	pong   bool
	mu     sync.Mutex // guards writes: the reader answers pings
	frames chan frame
	done   chan struct{} // closed when the reader stops
	err    error         // why it stopped; read after done
}

// dial opens a WebSocket on the path with query; it returns the
// handshake's HTTP answer when the server refused it.
func (w *wire) dial(query string, pong bool) (*wsWire, answer, error) {
	w.t.Helper()
	url := "ws" + strings.TrimPrefix(w.srv.base, "http") + w.path + "?" + query
	ctx, cancel := context.WithTimeout(w.t.Context(), wireWait)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: wireWait}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		a := answer{what: "WebSocket ?" + query, err: err}
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			a.status, a.body, a.header, a.err = resp.StatusCode, string(b), resp.Header, nil
		}
		return nil, a, err
	}
	ws := &wsWire{w: w, c: c, pong: pong, frames: make(chan frame, 64), done: make(chan struct{})}
	w.t.Cleanup(func() { c.Close(); <-ws.done })
	go ws.read()
	return ws, answer{}, nil
}

// ws opens a WebSocket that the server must accept.
func (w *wire) ws(query string, pong bool) *wsWire {
	w.t.Helper()
	ws, a, err := w.dial(query, pong)
	if err != nil {
		w.t.Fatalf("%s: WebSocket ?%s: %v (%s)", w.srv.name, query, err, a)
	}
	return ws
}

func (ws *wsWire) read() {
	defer close(ws.done)
	for {
		op, data, err := ws.c.ReadMessage()
		if err != nil {
			ws.err = err
			return
		}
		f := frame{binary: op == websocket.BinaryMessage, data: string(data)}
		if ws.pong && f == (frame{data: "2"}) {
			ws.write(websocket.TextMessage, []byte("3"))
			continue
		}
		ws.frames <- f
	}
}

func (ws *wsWire) write(op int, data []byte) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.c.WriteMessage(op, data)
}

// send sends text messages, each in its own frame.
func (ws *wsWire) send(msgs ...string) {
	ws.w.t.Helper()
	for _, m := range msgs {
		if err := ws.write(websocket.TextMessage, []byte(m)); err != nil {
			ws.w.t.Fatalf("%s: sending %q: %v", ws.w.srv.name, m, err)
		}
	}
}

// sendBinary sends one binary message.
func (ws *wsWire) sendBinary(b ...byte) {
	ws.w.t.Helper()
	if err := ws.write(websocket.BinaryMessage, b); err != nil {
		ws.w.t.Fatalf("%s: sending %v: %v", ws.w.srv.name, b, err)
	}
}

// next returns the next message; the connection's end or the hang guard
// fail the case.
func (ws *wsWire) next(waiting string) frame {
	ws.w.t.Helper()
	select {
	case f := <-ws.frames:
		return f
	case <-ws.done:
		select {
		case f := <-ws.frames:
			return f
		default:
		}
		ws.w.t.Fatalf("%s: the WebSocket ended (%v) while the case waited for %s", ws.w.srv.name, ws.err, waiting)
	case <-time.After(wireWait):
		ws.w.t.Fatalf("%s: nothing within %v while the case waited for %s", ws.w.srv.name, wireWait, waiting)
	}
	return frame{}
}

// expect reads the next messages and checks that they are want, in order:
// strings are text messages, []byte binary ones.
func (ws *wsWire) expect(want ...any) {
	ws.w.t.Helper()
	for _, v := range want {
		var f frame
		switch v := v.(type) {
		case string:
			f = frame{data: v}
		case []byte:
			f = frame{binary: true, data: string(v)}
		}
		if got := ws.next(f.String()); got != f {
			ws.w.t.Fatalf("%s: got %s, want %s", ws.w.srv.name, got, f)
		}
	}
}

// expectClosed waits until the server ends the connection, after at most
// the messages allowed (in any order, each at most once); any other
// message fails the case. It returns the close error.
func (ws *wsWire) expectClosed(allowed ...string) error {
	ws.w.t.Helper()
	for {
		select {
		case f := <-ws.frames:
			i := slices.Index(allowed, f.data)
			if f.binary || i < 0 {
				ws.w.t.Fatalf("%s: got %s, want the connection closed", ws.w.srv.name, f)
			}
			allowed = slices.Delete(allowed, i, i+1)
		case <-ws.done:
			if len(ws.frames) > 0 {
				continue
			}
			return ws.err
		case <-time.After(wireWait):
			ws.w.t.Fatalf("%s: the connection is still open after %v, want it closed", ws.w.srv.name, wireWait)
		}
	}
}

// closeCode is the WebSocket close code in err, or -1 when the connection
// ended without a close frame.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
