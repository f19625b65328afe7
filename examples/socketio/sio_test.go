package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/socketio"
)

// The socket.io-protocol test suite's Socket.IO cases, replayed on the
// wire against this example, in-process, over a gorilla/websocket
// client speaking Engine.IO v4 by hand (the suite's own client is a bare
// WebSocket too). Unlike the suite's client, ours answers the server's
// pings, so that a close seen here is one the server chose, not a ping
// timeout.

// wireDeadline is a hang guard only.
const wireDeadline = 10 * time.Second

// startSocketIO runs the example's Socket.IO server on a free port.
func startSocketIO(t *testing.T, o options) (*server.Server, *socketio.Server) {
	t.Helper()
	o.addr = "127.0.0.1:0"
	o.loops = 2
	if o.pingInterval == 0 {
		// The suite's interval, with a timeout that a loaded machine
		// (the race detector, parallel builds) cannot miss: a ping
		// timeout would pass for the close a case expects.
		o.pingInterval, o.pingTimeout = 300*time.Millisecond, 5*time.Second
	}
	srv, sio := newSocketIOServer(o)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, sio
}

// eioWS is an Engine.IO v4 WebSocket client: it answers pings and hands
// out the other packets.
type eioWS struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan wsMsg
	wmu  sync.Mutex // gorilla allows one writer at a time: the test's or the pong's
}

// write sends one message, from the test or the reader's pong.
func (c *eioWS) write(op int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(op, b)
}

type wsMsg struct {
	binary bool
	data   string
	err    error
}

func dialEIO(t *testing.T, srv *server.Server, path string) *eioWS {
	t.Helper()
	url := fmt.Sprintf("ws://%s%s?EIO=4&transport=websocket", srv.Addr(), path)
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	c := &eioWS{t: t, ws: ws, msgs: make(chan wsMsg, 64)}
	t.Cleanup(func() { ws.Close() })
	go func() {
		defer close(c.msgs)
		for {
			op, b, err := ws.ReadMessage()
			if err != nil {
				c.msgs <- wsMsg{err: err}
				return
			}
			if op == websocket.TextMessage && string(b) == "2" {
				_ = c.write(websocket.TextMessage, []byte("3"))
				continue
			}
			c.msgs <- wsMsg{binary: op == websocket.BinaryMessage, data: string(b)}
		}
	}()
	if m := c.next(); !strings.HasPrefix(m, `0{"sid":`) {
		t.Fatalf("Engine.IO open %q", m)
	}
	return c
}

// next returns the next packet: text as is, binary as "bin:" + %v.
func (c *eioWS) next() string {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok || m.err != nil {
			c.t.Fatalf("connection ended: %v", m.err)
		}
		if m.binary {
			return fmt.Sprintf("bin:%v", []byte(m.data))
		}
		return m.data
	case <-time.After(wireDeadline):
		c.t.Fatal("no message")
	}
	return ""
}

func (c *eioWS) send(s string) {
	c.t.Helper()
	if err := c.write(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *eioWS) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.write(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// closed waits for the server to end the connection, skipping packets,
// and returns the read error that ended it.
func (c *eioWS) closed() error {
	c.t.Helper()
	deadline := time.After(wireDeadline)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok || m.err != nil {
				return m.err
			}
		case <-deadline:
			c.t.Fatal("connection not closed")
			return nil
		}
	}
}

// TestSuiteOnTheWire replays each Socket.IO case of the socket.io-protocol
// test suite (and the closes it expects) over a WebSocket; after each
// case that closes a connection, another one opened before it is still
// served.
func TestSuiteOnTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startSocketIO(t, options{})
	main := []string{"40", `40{"sid":"*`, "", `42["auth",{}]`}
	cases := []struct {
		name   string
		steps  []string // pairs: what to send ("" nothing, "bin:1,2" binary), what to expect ("" nothing, '*' ends a prefix)
		closed bool
	}{
		{"connect main", main, false},
		{"connect main with payload", []string{`40{"token":"123"}`, `40{"sid":"*`, "", `42["auth",{"token":"123"}]`}, false},
		{"connect custom", []string{"40/custom,", `40/custom,{"sid":"*`, "", `42/custom,["auth",{}]`}, false},
		{"connect custom with payload", []string{`40/custom,{"token":"abc"}`, `40/custom,{"sid":"*`, "", `42/custom,["auth",{"token":"abc"}]`}, false},
		{"unknown namespace", []string{"40/random", `44/random,{"message":"Invalid namespace"}`}, false},
		{"invalid handshake", []string{"4abc", ""}, true},
		{"disconnect main, then a packet for it", append(main, "41", "", `42["message","x"]`, ""), true},
		{"connect then disconnect custom", append(main,
			"40/custom", `40/custom,{"sid":"*`, "", `42/custom,["auth",{}]`,
			"41/custom", "",
			`42["message","message to main namespace"]`, `42["message-back","message to main namespace"]`), false},
		{"plain-text event", append(main, `42["message",1,"2",{"3":[true]}]`, `42["message-back",1,"2",{"3":[true]}]`), false},
		{"binary event", append(main,
			`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "",
			"bin:1,2,3", "",
			"bin:4,5,6", `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
			"", "bin:[1 2 3]", "", "bin:[4 5 6]"), false},
		{"event with ack", append(main, `42456["message-with-ack",1,"2",{"3":[false]}]`, `43456[1,"2",{"3":[false]}]`), false},
		{"binary event with ack", append(main,
			`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "",
			"bin:1,2,3", "",
			"bin:4,5,6", `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
			"", "bin:[1 2 3]", "", "bin:[4 5 6]"), false},
		{"unknown packet type", append(main, "4abc", ""), true},
		{"invalid payload format", append(main, "42{}", ""), true},
		{"invalid ack id", append(main, `42abc["message-with-ack",1,"2",{"3":[false]}]`, ""), true},
		{"binary without a pending packet", append(main, "bin:1", ""), true},
		{"text while attachments are due", append(main, `451-["message",{"_placeholder":true,"num":0}]`, "", `42["message"]`, ""), true},
		{"placeholder out of range", append(main, `451-["message",{"_placeholder":true,"num":3}]`, "", "bin:1", ""), true},
		{"too many attachments", append(main, `4511-["message"]`, ""), true},
		{"reserved event name", append(main, `42["disconnect"]`, ""), true},
		{"connect twice", append(main, "40", ""), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			witness := dialEIO(t, srv, "/socket.io/")
			witness.send("40")
			if got := witness.next(); !strings.HasPrefix(got, `40{"sid":`) {
				t.Fatalf("witness connect %q", got)
			}
			witness.next() // its auth event
			c := dialEIO(t, srv, "/socket.io/")
			for i := 0; i+1 < len(tc.steps); i += 2 {
				send, want := tc.steps[i], tc.steps[i+1]
				switch {
				case strings.HasPrefix(send, "bin:"):
					c.sendBinary(bytesOf(send[4:]))
				case send != "":
					c.send(send)
				}
				switch {
				case want == "":
				case strings.HasSuffix(want, "*"):
					if got := c.next(); !strings.HasPrefix(got, strings.TrimSuffix(want, "*")) {
						t.Fatalf("got %q, want %s", got, want)
					}
				default:
					if got := c.next(); got != want {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
			}
			if tc.closed {
				defer func() {
					// The connection opened before the case is still served.
					witness.send(`42["message","witness"]`)
					if got := witness.next(); got != `42["message-back","witness"]` {
						t.Fatalf("another connection after the case: %q", got)
					}
				}()
				var ce *websocket.CloseError
				if err := c.closed(); !errors.As(err, &ce) || ce.Code != websocket.CloseProtocolError {
					t.Fatalf("closed with %v, want 1002 (a protocol error)", err)
				}
				return
			}
			// Still served: a ping round later nothing closed it.
			c.send(`42["message","still"]`)
			if tc.name != "connect custom" && tc.name != "connect custom with payload" && tc.name != "unknown namespace" {
				if got := c.next(); got != `42["message-back","still"]` {
					t.Fatalf("after the case: %q", got)
				}
			}
		})
	}
}

func bytesOf(s string) []byte {
	var b []byte
	for _, f := range strings.Split(s, ",") {
		var n byte
		for _, d := range f {
			n = n*10 + byte(d-'0')
		}
		b = append(b, n)
	}
	return b
}

// TestConnectTimeoutOnTheWire: a client that sends no CONNECT is closed
// after the 1 s connect timeout (the suite server's setting).
func TestConnectTimeoutOnTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startSocketIO(t, options{})
	c := dialEIO(t, srv, "/socket.io/")
	var ce *websocket.CloseError
	if err := c.closed(); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("closed with %v, want 1008 (the connect timeout)", err)
	}
}

// TestPollingEvent runs a CONNECT and an event over HTTP long-polling:
// the same layer behind the other transport.
func TestPollingEvent(t *testing.T) {
	t.Parallel()
	srv, _ := startSocketIO(t, options{})
	base := fmt.Sprintf("http://%s/socket.io/?EIO=4&transport=polling", srv.Addr())
	get := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
		}
		return string(b)
	}
	post := func(url, body string) {
		t.Helper()
		resp, err := http.Post(url, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", url, resp.StatusCode)
		}
	}
	open := get(base)
	i := strings.Index(open, `"sid":"`)
	if i < 0 {
		t.Fatalf("open %q", open)
	}
	sid := open[i+7 : i+7+strings.IndexByte(open[i+7:], '"')]
	url := base + "&sid=" + sid
	post(url, `40{"token":"p"}`)
	got := get(url)
	if !strings.HasPrefix(got, `40{"sid":"`) || !strings.HasSuffix(got, "\x1e"+`42["auth",{"token":"p"}]`) {
		// The two packets may also come in two polls.
		if strings.HasPrefix(got, `40{"sid":"`) && !strings.Contains(got, "\x1e") {
			got += "\x1e" + get(url)
		}
		if !strings.HasSuffix(got, "\x1e"+`42["auth",{"token":"p"}]`) {
			t.Fatalf("poll %q", got)
		}
	}
	post(url, `42["message","over polling"]`)
	if got := get(url); got != `42["message-back","over polling"]` {
		t.Fatalf("poll %q", got)
	}
}
