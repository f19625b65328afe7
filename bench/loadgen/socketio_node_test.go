package loadgen

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeSocketIO starts the bench's official Node socket.io peer
// (bench/peers/socketio-node, its npm packages installed by deps.sh from
// the lockfile) with fast heartbeats, and returns its client and API
// addresses.
func nodeSocketIO(t *testing.T) (addr, api string) {
	t.Helper()
	peers, err := filepath.Abs(filepath.Join("..", "peers"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(peers, "socketio-node")
	if out, err := exec.Command("bash", filepath.Join(peers, "node", "deps.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("deps.sh %s: %v\n%s", dir, err, out)
	}
	addr, api = freeAddr(t), freeAddr(t)
	// A ping every 100 ms after the last pong, 2 s to answer it: a client
	// that does not pong gets one ping and is gone 2 s later; one that
	// does gets a ping every 100 ms or so (a loaded machine can delay a
	// pong by more than 100 ms, never by 2 s).
	cmd := exec.Command("node", filepath.Join(dir, "server.mjs"), "-addr", addr, "-api", api, "-ping-interval", "100", "-ping-timeout", "2000")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second) // a hang guard: node starts in well under a second
	for _, a := range []string{addr, api} {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the node socket.io peer does not listen on %s", a)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return addr, api
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// roomClient joins room t on open and is ready when the join is acked; it
// logs every other packet per connection.
type roomClient struct {
	BuiltinHandler
	loop    *Loop
	packets map[int][]string
	badAck  []string
}

func (r *roomClient) Opened(c *Conn) { r.loop.Emit(c, 1, []byte(`["join","t"]`)) }

func (r *roomClient) Packet(c *Conn, p *Packet) {
	if p.Type == SIOAck && p.ID == 1 {
		if string(p.Data) != `["t"]` {
			r.badAck = append(r.badAck, string(p.Data))
		}
		r.loop.Ready(c)
		return
	}
	r.packets[c.ID] = append(r.packets[c.ID], fmt.Sprintf("%c %s %q", p.Type, p.Data, p.Binary))
}

// TestSocketIONode: the loop's Socket.IO clients against the official
// Node server: they connect over WebSocket, join a room by an acked
// event, keep the session alive through heartbeats, and get the room's
// events, text and binary (an attachment), in order.
func TestSocketIONode(t *testing.T) {
	t.Parallel()
	addr, api := nodeSocketIO(t)
	const n = 20
	rc := &roomClient{packets: map[int][]string{}}
	l, err := NewLoop(Config{Addr: addr, Path: "/socket.io/?EIO=4&transport=websocket", Transport: SocketIO, WaitReady: true}, rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.loop = l
	defer l.CloseAll()
	for i := range n {
		if err := l.Dial(i); err != nil {
			t.Fatal(err)
		}
	}
	pollFor(t, l, func() bool { return l.Open+l.Errors == n })
	if l.Open != n || len(rc.badAck) > 0 {
		t.Fatalf("%d of %d joined, errors %d (%v), acks %q", l.Open, n, l.Errors, l.LastErr, rc.badAck)
	}
	// Every client answers three pings: without the pongs the server
	// sends each client one ping, then closes it.
	pollFor(t, l, func() bool { return l.Pings >= 3*n || l.Open < n })
	if l.Open != n || l.Errors != 0 {
		t.Fatalf("after %d pings: %d of %d open, errors %d (%v)", l.Pings, l.Open, n, l.Errors, l.LastErr)
	}
	for _, q := range []string{"", "", "binary=1"} {
		resp, err := http.Post("http://"+api+"/publish?topic=t&"+q, "application/octet-stream", strings.NewReader("hello\x01"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{
		`2 ["message","hello\u0001"] []`, `2 ["message","hello\u0001"] []`,
		`5 ["message",{"_placeholder":true,"num":0}] ["hello\x01"]`,
	}
	pollFor(t, l, func() bool {
		for i := range n {
			if len(rc.packets[i]) < len(want) {
				return false
			}
		}
		return true
	})
	for i := range n {
		if got := rc.packets[i]; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("client %d got\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if l.Open != n || l.Errors != 0 {
		t.Fatalf("%d of %d open, errors %d (%v)", l.Open, n, l.Errors, l.LastErr)
	}
}

// pollFor polls l until done, with a 60 s hang guard: node, the race
// detector and a loaded machine make 5 s (pollUntil's) too short.
func pollFor(t *testing.T, l *Loop, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("hang guard: 60 s passed")
		}
		if err := l.Poll(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}
