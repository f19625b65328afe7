package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// rawPost sends the head of a post of length bytes on its own TCP
// connection, with Expect: 100-continue, and waits for the interim
// answer: the server has read the head. The body is the caller's to send.
func rawPost(t *testing.T, base, sid string, length int) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, host := rawDial(t, base)
	fmt.Fprintf(nc, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n"+
		"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", sid, host, length)
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	const interim = "HTTP/1.1 100 Continue\r\n\r\n"
	got := make([]byte, len(interim))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != interim {
		t.Fatalf("the answer to Expect: 100-continue: %q (%v)", got, err)
	}
	return nc, br
}

// TestEIOOverlappingPosts: a second post while the first one's body is
// still arriving gets the reference server's 400 with no body, and ends
// the session; the first one's connection is dropped unanswered, as the
// reference drops it, also once its body is complete; another session is
// unharmed. Several rounds, so that the second post lands on the
// session's loop and on the other one.
func TestEIOOverlappingPosts(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	_, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, true)
	other, _ := c.handshake()
	for i := range 4 {
		sid, _ := c.handshake()
		nc, br := rawPost(t, base, sid, 10)
		if _, err := io.WriteString(nc, "4hel"); err != nil {
			t.Fatal(err)
		}
		if status, body := c.post(sid, "4world"); status != 400 || body != "" {
			t.Fatalf("round %d: second post: %d %q", i, status, body)
		}
		// The rest of the first body: a write after the drop may fail.
		_, _ = io.WriteString(nc, "lo\x1e4abc")
		if got, err := io.ReadAll(br); len(got) > 0 || isTimeout(err) {
			t.Fatalf("round %d: the first post got %q (%v), want its connection closed unanswered", i, got, err)
		}
		if got := h.nextClose(t); got != "1002 transport error" {
			t.Fatalf("round %d: OnClose %q", i, got)
		}
		if status, _ := c.get(sid); status != 400 {
			t.Fatalf("round %d: poll after: %d", i, status)
		}
		m := fmt.Sprintf("4bystander%d", i)
		if status, body := c.post(other, m); status != 200 || body != "ok" {
			t.Fatalf("round %d: the other session's post: %d %q", i, status, body)
		}
		if status, body := c.get(other); status != 200 || body != m {
			t.Fatalf("round %d: the other session's poll: %d %q", i, status, body)
		}
	}
}

// TestEIOPostsInTurn: posts one after the other, also one whose
// connection closed before its body was complete, are no overlap.
func TestEIOPostsInTurn(t *testing.T) {
	t.Parallel()
	h := newEIOEvents()
	srv, base := eioServer(t, h, server.Config{})
	c := newEIOClient(t, base, true)
	sid, _ := c.handshake()
	for i := range 3 {
		if status, body := c.post(sid, fmt.Sprintf("4m%d", i)); status != 200 || body != "ok" {
			t.Fatalf("post %d: %d %q", i, status, body)
		}
	}
	nc, _ := rawPost(t, base, sid, 10)
	if _, err := io.WriteString(nc, "4hel"); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	waitFor(t, "the cut post's connection closed", func() bool { return srv.Connections() == 0 })
	if status, body := c.post(sid, "4after"); status != 200 || body != "ok" {
		t.Fatalf("post after a cut one: %d %q", status, body)
	}
	if status, body := c.get(sid); status != 200 || body != "4m0\x1e4m1\x1e4m2\x1e4after" {
		t.Fatalf("poll: %d %q", status, body)
	}
}

// isTimeout reports whether err is a deadline's: the hang guard, not an
// answer of the server.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
