package loadgen

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

type recorder struct {
	opened, closed int
	msgs           []string
}

func (r *recorder) Opened(*Conn)              { r.opened++ }
func (r *recorder) Message(_ *Conn, p []byte) { r.msgs = append(r.msgs, string(p)) }
func (r *recorder) Closed(_ *Conn, err error) { r.closed++ }

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
	l, err := NewLoop(ln.Addr().String(), "/ws?topic=t", rec)
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
