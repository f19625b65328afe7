package loadgen

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// readResponse feeds pieces to parseHead and a bodyDecoder as the loop
// does: what a call leaves unconsumed is carried over to the next piece.
func readResponse(pieces [][]byte) (h responseHead, body []byte, done bool, err error) {
	var pending []byte
	haveHead := false
	var d bodyDecoder
	for _, piece := range pieces {
		data := append(pending, piece...)
		for !done {
			if !haveHead {
				var n int
				h, n, err = parseHead(data)
				if err != nil {
					return h, body, false, err
				}
				if n == 0 {
					break
				}
				haveHead, d, data = true, newBody(h), data[n:]
			}
			var b []byte
			var used int
			b, used, done, err = d.next(data)
			if err != nil {
				return h, body, false, err
			}
			body = append(body, b...)
			data = data[used:]
			if used == 0 && !done {
				break
			}
		}
		pending = append([]byte(nil), data...)
	}
	return h, body, done, nil
}

// splits returns wire cut in two at every point, and one byte at a time.
func splits(wire string) map[string][][]byte {
	out := map[string][][]byte{"whole": {[]byte(wire)}}
	for i := 1; i < len(wire); i++ {
		out["split at "+strconv.Itoa(i)] = [][]byte{[]byte(wire[:i]), []byte(wire[i:])}
	}
	var bytewise [][]byte
	for i := range len(wire) {
		bytewise = append(bytewise, []byte{wire[i]})
	}
	out["byte by byte"] = bytewise
	return out
}

// TestResponse: heads and bodies decode the same however the bytes are
// split.
func TestResponse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		wire    string
		status  int
		framing bodyFraming
		close   bool
		body    string
		done    bool
	}{
		{name: "content-length", wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, body: "hello", done: true},
		{name: "header names in any case", wire: "HTTP/1.1 200 OK\r\ncontent-LENGTH:2\r\nCONNECTION: Close\r\n\r\nhi", status: 200, close: true, body: "hi", done: true},
		{name: "bare LF lines", wire: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", status: 200, body: "hi", done: true},
		{
			name:    "chunked, extension, trailer",
			wire:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
			status:  200,
			framing: framingChunked, body: "hello world", done: true,
		},
		{
			name:   "chunked, upper-case hex, chunked wins over length",
			wire:   "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
			status: 200, framing: framingChunked, body: "0123456789", done: true,
		},
		{name: "chunked, unfinished", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\nde", status: 200, framing: framingChunked, body: "abcde"},
		{name: "no content", wire: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", status: 204, done: true},
		{name: "switching protocols", wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", status: 101, done: true},
		{name: "until close", wire: "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n", status: 200, framing: framingClose, body: "data: x\n\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for how, pieces := range splits(c.wire) {
				h, body, done, err := readResponse(pieces)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if h.status != c.status || h.framing != c.framing || h.close != c.close || string(body) != c.body || done != c.done {
					t.Fatalf("%s: status %d framing %d close %v body %q done %v, want %d %d %v %q %v",
						how, h.status, h.framing, h.close, body, done, c.status, c.framing, c.close, c.body, c.done)
				}
			}
		})
	}
}

// TestResponseErrors: what the generator refuses, it refuses however the
// bytes are split.
func TestResponseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, wire string }{
		{"not HTTP", "HTP/1.1 200 OK\r\n\r\n"},
		{"status not three digits", "HTTP/1.1 20 OK\r\n\r\n"},
		{"header without colon", "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n"},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
		{"chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for how, pieces := range splits(c.wire) {
				var pe ProtocolError
				if _, _, _, err := readResponse(pieces); !errors.As(err, &pe) {
					t.Fatalf("%s: err %v, want a ProtocolError", how, err)
				}
			}
		})
	}
	t.Run("endless head", func(t *testing.T) {
		t.Parallel()
		wire := []byte("HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeadBytes))
		var pe ProtocolError
		if _, _, _, err := readResponse([][]byte{wire[:10], wire[10:]}); !errors.As(err, &pe) {
			t.Fatalf("err %v, want a ProtocolError", err)
		}
	})
	t.Run("endless chunk line", func(t *testing.T) {
		t.Parallel()
		wire := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("0", 2*maxChunkLine))
		if _, _, _, err := readResponse([][]byte{wire}); err == nil {
			t.Fatal("no error")
		}
	})
}

// TestBodyDecoderZeroCopy: body bytes come back as sub-slices of the
// input, not copies.
func TestBodyDecoderZeroCopy(t *testing.T) {
	t.Parallel()
	d := newBody(responseHead{framing: framingChunked})
	in := []byte("4\r\nabcd\r\n")
	_, used, _, _ := d.next(in)
	data, _, _, _ := d.next(in[used:])
	if string(data) != "abcd" || &data[0] != &in[3] {
		t.Fatalf("data %q is not in place", data)
	}
	if !bytes.Equal(in[3:7], data) {
		t.Fatal("changed")
	}
}
