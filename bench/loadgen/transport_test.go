package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logger records what a Loop hands its handler, as one line per call.
type logger struct {
	BuiltinHandler
	lines []string
	errs  []error
}

func (g *logger) Opened(*Conn)              { g.lines = append(g.lines, "opened") }
func (g *logger) Message(_ *Conn, p []byte) { g.lines = append(g.lines, "message "+string(p)) }
func (g *logger) Closed(_ *Conn, err error) {
	g.lines = append(g.lines, "closed")
	g.errs = append(g.errs, err)
}
func (g *logger) Event(_ *Conn, ev *Event) {
	g.lines = append(g.lines, fmt.Sprintf("event %s/%s/%s", ev.Type, ev.ID, ev.Data))
}
func (g *logger) Response(_ *Conn, s int, b []byte) {
	g.lines = append(g.lines, fmt.Sprintf("response %d %s", s, b))
}

// chunk frames s as one chunk of a chunked body.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// TestInputSplits: for each transport, a server's bytes give the same
// calls to the handler however they are split between reads: the loop's
// carry-over and the parsers' own state together are incremental.
func TestInputSplits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		transport Transport
		wire      string
		want      []string
	}{
		{
			name: "websocket", transport: WebSocket,
			wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi\x82\x7e\x00\x03abc\x88\x02\x03\xe8",
			want: []string{"opened", "message hi", "message abc", "closed"},
		},
		{
			name: "event stream, chunked", transport: EventStream,
			wire: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
				chunk("event: open\ndata: {\"op\":\"open\"}\n") + chunk("\n") +
				chunk("id: c1\ndata: one\n\ndata") + chunk(": two\n\n") + "0\r\n\r\n",
			want: []string{"opened", `event open//{"op":"open"}`, "event /c1/one", "event /c1/two", "closed"},
		},
		{
			name: "event stream refused", transport: EventStream,
			wire: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
			want: []string{"closed"},
		},
		{
			name: "poll replies, sized then chunked, then close", transport: Poll,
			wire: "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"cursor\":\"a\"}" +
				"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(`{"curs`) + chunk(`or":"b"}`) + "0\r\n\r\n" +
				"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			want: []string{"opened", `response 200 {"cursor":"a"}`, `response 200 {"cursor":"b"}`, "response 503 ", "closed"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for how, pieces := range splits(c.wire) {
				g := &logger{}
				l := &Loop{cfg: Config{Transport: c.transport}, h: g, epfd: -1, conns: map[int]*Conn{}}
				conn := &Conn{fd: -1, state: stateHandshake}
				if c.transport == Poll {
					l.opened(conn)
				}
				for _, p := range pieces {
					if conn.state != stateClosed {
						l.input(conn, p)
					}
				}
				if !slices.Equal(g.lines, c.want) {
					t.Fatalf("%s:\n got %q\nwant %q", how, g.lines, c.want)
				}
			}
		})
	}
}

// pollUntil polls l until done or a 5 s deadline.
func pollUntil(t *testing.T, l *Loop, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("deadline passed")
		}
		if err := l.Poll(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// sseClient readies a connection on the stream's open event, as the
// bench's c1m dialect does.
type sseClient struct {
	logger
	loop      *Loop
	openAfter int // loop.Open once readied
}

func (s *sseClient) Event(c *Conn, ev *Event) {
	s.logger.Event(c, ev)
	if string(ev.Type) == "open" {
		s.loop.Ready(c)
		s.openAfter = s.loop.Open
	}
}

// TestEventStreamLoop: against net/http's chunked, flushed responses, a
// WaitReady connection counts open only once the handler says so, gets
// every event, and sees the end of the stream as ErrClosedByServer.
func TestEventStreamLoop(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sse" || r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "event: open\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		for i := range 3 {
			fmt.Fprintf(w, "id: %d\ndata: m%d\n\n", i, i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	g := &sseClient{}
	l, err := NewLoop(Config{Addr: srv.Listener.Addr().String(), Path: "/sse?topic=t", Transport: EventStream, WaitReady: true}, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.CloseAll)
	g.loop = l
	if err := l.Dial(0); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, l, func() bool { return slices.Contains(g.lines, "opened") })
	if l.Open != 0 || l.Handshaking != 1 {
		t.Fatalf("open %d handshaking %d before the open event, want 0 and 1", l.Open, l.Handshaking)
	}
	close(release)
	pollUntil(t, l, func() bool { return slices.Contains(g.lines, "closed") })
	want := []string{"opened", "event open//{}", "event /0/m0", "event /1/m1", "event /2/m2", "closed"}
	if !slices.Equal(g.lines, want) || !errors.Is(g.errs[0], ErrClosedByServer) || g.openAfter != 1 {
		t.Fatalf("got %q (%v, open %d when readied), want %q", g.lines, g.errs, g.openAfter, want)
	}
}

// pollClient polls again with the cursor of each reply, five times.
type pollClient struct {
	logger
	loop *Loop
}

func (p *pollClient) Response(c *Conn, status int, body []byte) {
	p.logger.Response(c, status, body)
	p.loop.Ready(c)
	if c.Received < 5 {
		p.loop.Get(c, "/poll?cursor="+string(body))
	} else {
		p.loop.Close(c)
	}
}

// TestPollLoop: each reply is handed over whole and the next poll goes
// out on the same kept-alive connection.
func TestPollLoop(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var remotes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		cur := r.URL.Query().Get("cursor")
		if cur == "" {
			cur = "c"
		}
		if len(cur)%2 == 0 {
			w.(http.Flusher).Flush() // a chunked reply
		}
		fmt.Fprint(w, cur+"c")
	}))
	t.Cleanup(srv.Close)
	g := &pollClient{}
	l, err := NewLoop(Config{Addr: srv.Listener.Addr().String(), Path: "/poll?topic=t&wait=0", Transport: Poll, WaitReady: true}, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.CloseAll)
	g.loop = l
	if err := l.Dial(0); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, l, func() bool { return slices.Contains(g.lines, "closed") })
	want := []string{"opened", "response 200 cc", "response 200 ccc", "response 200 cccc", "response 200 ccccc", "response 200 cccccc", "closed"}
	if !slices.Equal(g.lines, want) || g.errs[0] != nil || l.Errors != 0 {
		t.Fatalf("got %q (%v), want %q", g.lines, g.errs, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 5 || strings.Count(strings.Join(remotes, " "), remotes[0]) != 5 {
		t.Fatalf("polls came from %v, want five on one connection", remotes)
	}
}

// TestWaitReadyTimeout: an upgraded connection the handler never readies
// is dropped at the handshake timeout.
func TestWaitReadyTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
			t.Cleanup(func() { c.Close() })
		}
	}()
	g := &logger{}
	l, err := NewLoop(Config{Addr: ln.Addr().String(), Path: "/", WaitReady: true, HandshakeTimeout: 100 * time.Millisecond}, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.CloseAll)
	if err := l.Dial(0); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, l, func() bool { return l.Conns() == 0 })
	if !slices.Equal(g.lines, []string{"opened", "closed"}) || l.Timeouts != 1 || l.Open != 0 || l.Handshaking != 0 {
		t.Fatalf("calls %q timeouts %d open %d handshaking %d", g.lines, l.Timeouts, l.Open, l.Handshaking)
	}
}
