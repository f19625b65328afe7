package server_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// keepWriting writes chunk to c over and over, as a client that does not
// wait for an answer, until the test ends or the connection fails.
func keepWriting(t *testing.T, c net.Conn, chunk []byte) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SetWriteDeadline(time.Now().Add(wstest.Timeout))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// TestAnswerThenLinger: a client that keeps sending after a request or a
// frame the server refuses gets exactly one answer, then an orderly end of
// stream, not a reset that could destroy the answer: the server answers
// once, shuts down its write side and discards input until the client
// leaves (a lingering close).
func TestAnswerThenLinger(t *testing.T) {
	t.Parallel()
	timing := fastTiming
	timing.CloseTimeout = wstest.Timeout // the linger must outlast the test
	_, addr := start(t, nil, server.Config{Timing: timing, MaxHead: 1024, MaxFrame: 1 << 20, MaxMessage: 1 << 20})

	// A masked binary frame header announcing 16 MiB, 16 times the limit.
	bigHeader := wstest.Masked(true, 0, codec.OpBinary, make([]byte, 16<<20))[:14]

	cases := []struct {
		name    string
		upgrade bool
		first   []byte // what the client sends before it streams filler
		status  int    // the HTTP answer; 0 for a close frame
		code    codec.StatusCode
	}{
		{"head over the limit", false, []byte("GET /ws HTTP/1.1\r\nX: " + strings.Repeat("a", 2000)), http.StatusRequestHeaderFieldsTooLarge, 0},
		{"malformed head", false, []byte("GET\r\n\r\n"), http.StatusBadRequest, 0},
		{"unknown path", false, []byte(wstest.Request("/nope", "")), http.StatusNotFound, 0},
		{"frame over the limit", true, bigHeader, 0, codec.StatusMessageTooBig},
		{"unmasked frame", true, []byte{0x82, 0x7e, 0xff, 0xff}, 0, codec.StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c *wstest.Conn
			if tc.upgrade {
				c = wstest.Upgrade(t, addr, "/ws")
			} else {
				c = wstest.Dial(t, addr)
			}
			c.Write(tc.first)
			keepWriting(t, c.Net(), bytes.Repeat([]byte("GET / HTTP/1.1\r\n\r\n"), 1<<10))

			if tc.status != 0 {
				_ = c.Net().SetReadDeadline(time.Now().Add(wstest.Timeout))
				all, err := io.ReadAll(c.Net())
				if err != nil {
					t.Fatalf("after %q: %v, want the answer and an orderly end", all, err)
				}
				if n := bytes.Count(all, []byte("HTTP/1.1 ")); n != 1 {
					t.Fatalf("%d answers, want exactly one: %q", n, all)
				}
				if want := "HTTP/1.1 " + strconv.Itoa(tc.status) + " "; !bytes.HasPrefix(all, []byte(want)) {
					t.Fatalf("answer %q, want %q", all, want)
				}
				return
			}
			f, err := c.ReadFrame()
			for err == nil && f.Op != codec.OpClose {
				f, err = c.ReadFrame()
			}
			if err != nil {
				t.Fatalf("waiting for close %d: %v", tc.code, err)
			}
			if got := f.CloseCode(); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
			if _, err := c.ReadFrame(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want an orderly end of stream", err)
			}
		})
	}
}

// TestLingerDeadline: a client that takes its answer but never leaves, and
// keeps sending, is dropped at the close deadline.
func TestLingerDeadline(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, nil, server.Config{Timing: fastTiming, Loops: 1})
	c := wstest.Dial(t, addr)
	c.Write([]byte("GET\r\n\r\n"))
	if resp := c.Response(); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Writes succeed while the server discards them, then fail once it has
	// dropped the connection.
	_ = c.Net().SetWriteDeadline(time.Now().Add(wstest.Timeout))
	chunk := bytes.Repeat([]byte("x"), 1<<10)
	for {
		if _, err := c.Net().Write(chunk); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the lingering connection was not dropped at the close deadline")
			}
			break
		}
	}
	var ev uint64
	for _, sh := range server.Shards(srv) {
		ev += sh.Stats().Evictions(session.ReasonCloseTimeout)
	}
	if ev != 0 {
		t.Fatalf("%d close-timeout evictions counted for a connection that never opened", ev)
	}
}
