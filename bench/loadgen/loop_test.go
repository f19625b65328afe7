package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

type recorder struct {
	BuiltinHandler
	opened, closed int
	msgs           []string
	errs           []error
}

func (r *recorder) Opened(*Conn)              { r.opened++ }
func (r *recorder) Message(_ *Conn, p []byte) { r.msgs = append(r.msgs, string(p)) }
func (r *recorder) Closed(_ *Conn, err error) { r.closed++; r.errs = append(r.errs, err) }

// TestLoop: the loop completes a handshake, reads frames split across
// writes, answers a ping with a masked pong, sends masked data, and sees
// the server's close.
func TestLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02h"))
		time.Sleep(10 * time.Millisecond) // a frame split across two segments
		c.Write([]byte("i\x89\x01p"))
		// Expect the masked pong, then a masked binary "ok".
		want := []byte{0x8a, 0x81, 0, 0, 0, 0, 'p', 0x82, 0x82, 0, 0, 0, 0, 'o', 'k'}
		buf := make([]byte, len(want))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadFull(br, buf)
		got <- buf
		c.Write([]byte{0x88, 0x02, 0x03, 0xe8})
	}()
	rec := &recorder{}
	l, err := NewLoop(Config{Addr: ln.Addr().String(), Path: "/ws?topic=t"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer l.CloseAll()
	if err := l.Dial(0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	sent := false
	for rec.closed == 0 && time.Now().Before(deadline) {
		if err := l.Poll(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if len(rec.msgs) == 1 && !sent {
			l.Send(l.OpenConns()[0], false, []byte("ok"))
			sent = true
		}
	}
	if rec.opened != 1 || len(rec.msgs) != 1 || rec.msgs[0] != "hi" || rec.closed != 1 || l.Errors != 0 {
		t.Fatalf("opened %d msgs %q closed %d errors %d", rec.opened, rec.msgs, rec.closed, l.Errors)
	}
	if b := <-got; !bytes.Equal(b, []byte{0x8a, 0x81, 0, 0, 0, 0, 'p', 0x82, 0x82, 0, 0, 0, 0, 'o', 'k'}) {
		t.Fatalf("client wrote % x", b)
	}
}

// TestHandshakeTimeout: a server that accepts and never answers cannot
// hold a connection past the handshake timeout.
func TestHandshakeTimeout(t *testing.T) {
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
			t.Cleanup(func() { c.Close() }) // silent until the test ends
		}
	}()
	rec := &recorder{}
	l, err := NewLoop(Config{Addr: ln.Addr().String(), Path: "/", HandshakeTimeout: 50 * time.Millisecond}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.CloseAll)
	for i := range 3 {
		if err := l.Dial(i); err != nil {
			t.Fatal(err)
		}
	}
	for l.Handshaking > 0 {
		if err := l.Poll(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if rec.opened != 0 || rec.closed != 3 || l.Errors != 3 || l.Timeouts != 3 || l.Conns() != 0 {
		t.Fatalf("opened %d closed %d errors %d timeouts %d conns %d", rec.opened, rec.closed, l.Errors, l.Timeouts, l.Conns())
	}
	for _, err := range rec.errs {
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("closed with %v, want ErrHandshakeTimeout", err)
		}
	}
}

// TestSources: connections come round-robin from the configured source
// addresses and from no other.
func TestSources(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const base, sources, perSource = 7, 3, 2
	seen := make(chan string, sources*perSource)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	rec := &recorder{}
	l, err := NewLoop(Config{Addr: ln.Addr().String(), Path: "/", SourceBase: base, Sources: sources}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.CloseAll)
	for i := range sources * perSource {
		if err := l.Dial(i); err != nil {
			t.Fatal(err)
		}
	}
	count := map[string]int{}
	for range sources * perSource {
		select {
		case ip := <-seen:
			count[ip]++
		case <-time.After(10 * time.Second):
			t.Fatalf("accepted only %v", count)
		}
	}
	for i := base; i < base+sources; i++ {
		a := SourceAddr(i)
		if ip := net.IP(a[:]).String(); count[ip] != perSource {
			t.Errorf("%s: %d connections, want %d (all: %v)", ip, count[ip], perSource, count)
		}
	}
}

func TestSourceAddr(t *testing.T) {
	t.Parallel()
	cases := []struct {
		i    int
		want [4]byte
	}{
		{0, [4]byte{127, 0, 1, 1}},
		{249, [4]byte{127, 0, 1, 250}},
		{250, [4]byte{127, 0, 2, 1}},
		{MaxSources - 1, [4]byte{127, 0, 254, 250}},
	}
	for _, c := range cases {
		if got := SourceAddr(c.i); got != c.want {
			t.Errorf("SourceAddr(%d) = %v, want %v", c.i, got, c.want)
		}
	}
	if _, err := NewLoop(Config{Addr: "127.0.0.1:1", SourceBase: MaxSources - 1, Sources: 2}, &recorder{}); err == nil {
		t.Error("NewLoop accepted sources past MaxSources")
	}
	for _, c := range []struct{ n, per, want int }{{0, 1000, 1}, {1000, 1000, 1}, {1001, 1000, 2}, {19900, 0, 20}} {
		if got := SourcesFor(c.n, c.per); got != c.want {
			t.Errorf("SourcesFor(%d, %d) = %d, want %d", c.n, c.per, got, c.want)
		}
	}
}
