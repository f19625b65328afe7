package codec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// request parses a request head made of a request line and header lines
// (each ending in CRLF), closed here by the blank line.
func request(t testing.TB, lines string) Request {
	t.Helper()
	r, err := ParseRequest([]byte(lines + "\r\n"))
	if err != nil {
		t.Fatalf("%q: %v", lines, err)
	}
	return r
}

func TestBody(t *testing.T) {
	t.Parallel()
	const post = "POST /send HTTP/1.1\r\nHost: x\r\n"
	cases := []struct {
		name string
		head string
		kind BodyKind
		n    int64
		err  error
	}{
		{"none", post, BodyNone, 0, nil},
		{"length", post + "Content-Length: 5\r\n", BodyLength, 5, nil},
		{"length, name in lower case, value in spaces", post + "content-length: \t12 \r\n", BodyLength, 12, nil},
		{"length with leading zeros", post + "Content-Length: 007\r\n", BodyLength, 7, nil},
		{"length of 18 digits", post + "Content-Length: 999999999999999999\r\n", BodyLength, 999999999999999999, nil},
		{"length in HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 3\r\n", BodyLength, 3, nil},
		{"zero length", post + "Content-Length: 0\r\n", BodyNone, 0, nil},
		{"chunked", post + "Transfer-Encoding: chunked\r\n", BodyChunked, 0, nil},
		{"chunked in any case", post + "transfer-encoding: Chunked\r\n", BodyChunked, 0, nil},

		{"both length and chunked", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", BodyNone, 0, ErrBadBody},
		{"both chunked and length", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", BodyNone, 0, ErrBadBody},
		{"chunked and zero length", post + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", BodyNone, 0, ErrBadBody},
		{"gzip", post + "Transfer-Encoding: gzip\r\n", BodyNone, 0, ErrBadBody},
		{"gzip then chunked", post + "Transfer-Encoding: gzip, chunked\r\n", BodyNone, 0, ErrBadBody},
		{"chunked twice in a list", post + "Transfer-Encoding: chunked, chunked\r\n", BodyNone, 0, ErrBadBody},
		{"chunked in two fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", BodyNone, 0, ErrBadBody},
		{"empty transfer coding", post + "Transfer-Encoding:\r\n", BodyNone, 0, ErrBadBody},
		{"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", BodyNone, 0, ErrBadBody},
		{"duplicate length, same value", post + "Content-Length: 5\r\nContent-Length: 5\r\n", BodyNone, 0, ErrBadBody},
		{"duplicate length, other value", post + "Content-Length: 5\r\nContent-Length: 6\r\n", BodyNone, 0, ErrBadBody},
		{"length list", post + "Content-Length: 5, 5\r\n", BodyNone, 0, ErrBadBody},
		{"empty length", post + "Content-Length:\r\n", BodyNone, 0, ErrBadBody},
		{"letters", post + "Content-Length: five\r\n", BodyNone, 0, ErrBadBody},
		{"digits then a letter", post + "Content-Length: 5a\r\n", BodyNone, 0, ErrBadBody},
		{"negative", post + "Content-Length: -1\r\n", BodyNone, 0, ErrBadBody},
		{"plus sign", post + "Content-Length: +5\r\n", BodyNone, 0, ErrBadBody},
		{"hex", post + "Content-Length: 0x10\r\n", BodyNone, 0, ErrBadBody},
		{"space inside", post + "Content-Length: 1 0\r\n", BodyNone, 0, ErrBadBody},
		{"huge length, 19 digits", post + "Content-Length: 9223372036854775807\r\n", BodyNone, 0, ErrBadBody},
		{"huge length, past int64", post + "Content-Length: 99999999999999999999999\r\n", BodyNone, 0, ErrBadBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, tc.head)
			kind, n, err := r.Body()
			if kind != tc.kind || n != tc.n || err != tc.err {
				t.Fatalf("Body() = %d, %d, %v; want %d, %d, %v", kind, n, err, tc.kind, tc.n, tc.err)
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		head string
		want bool
	}{
		{"1.1 by default", "GET / HTTP/1.1\r\n", true},
		{"1.1, close", "GET / HTTP/1.1\r\nConnection: close\r\n", false},
		{"1.1, Close in another case", "GET / HTTP/1.1\r\nconnection: CLOSE\r\n", false},
		{"1.1, keep-alive", "GET / HTTP/1.1\r\nConnection: keep-alive\r\n", true},
		{"1.1, close in a list", "GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n", false},
		{"1.1, close in a second field", "GET / HTTP/1.1\r\nConnection: Upgrade\r\nConnection: close\r\n", false},
		{"1.1, keep-alive and close", "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n", false},
		{"1.1, a token that only starts with close", "GET / HTTP/1.1\r\nConnection: closed\r\n", true},
		{"1.1, close in another field", "GET / HTTP/1.1\r\nX-Connection: close\r\n", true},
		{"1.0 by default", "GET / HTTP/1.0\r\n", false},
		{"1.0, keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n", true},
		{"1.0, Keep-Alive in another case", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n", true},
		{"1.0, keep-alive in a list", "GET / HTTP/1.0\r\nConnection: TE ,\tkeep-alive\r\n", true},
		{"1.0, keep-alive in a second field", "GET / HTTP/1.0\r\nConnection: TE\r\nConnection: keep-alive\r\n", true},
		{"1.0, keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n", false},
		{"1.0, close then keep-alive", "GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n", false},
		{"1.0, a token that only starts with keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alived\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, tc.head)
			if got := r.KeepAlive(); got != tc.want {
				t.Fatalf("KeepAlive() = %v, want %v", got, tc.want)
			}
		})
	}
}

// chunked is what decoding a chunked body produced.
type chunked struct {
	body     string
	consumed int // bytes of the input consumed, over all calls
	done     bool
	err      error
}

func (c chunked) String() string {
	return fmt.Sprintf("body %q consumed %d done %v err %v", c.body, c.consumed, c.done, c.err)
}

// decodeChunked feeds input to a fresh ChunkedDecoder in parts of the given
// sizes (the rest in one piece) the way an event loop does: the bytes that
// arrived accumulate in an inbound buffer, each call's consumed bytes are
// discarded from its front and the unconsumed tail is kept (copied, as a
// loop compacting its buffer would) for the next call. It stops at the end
// of the body or at an error.
func decodeChunked(input []byte, limit int, parts ...int) chunked {
	var d ChunkedDecoder
	var r chunked
	var body, buf []byte
	feed := func(p []byte) bool {
		buf = append(buf, p...)
		var n int
		body, n, r.done, r.err = d.Decode(body, buf, limit)
		r.consumed += n
		buf = bytes.Clone(buf[n:])
		return !r.done && r.err == nil
	}
	rest := input
	for _, k := range parts {
		k = min(k, len(rest))
		if !feed(rest[:k]) {
			r.body = string(body)
			return r
		}
		rest = rest[k:]
	}
	feed(rest)
	r.body = string(body)
	return r
}

// everyChunkedSplit decodes input whole, split at every byte boundary and
// one byte at a time, checks that all agree and returns the result.
func everyChunkedSplit(t *testing.T, input []byte, limit int) chunked {
	t.Helper()
	whole := decodeChunked(input, limit)
	for i := 1; i < len(input); i++ {
		if got := decodeChunked(input, limit, i); got != whole {
			t.Fatalf("split at %d: %v; whole: %v", i, got, whole)
		}
	}
	ones := make([]int, len(input))
	for i := range ones {
		ones[i] = 1
	}
	if got := decodeChunked(input, limit, ones...); got != whole {
		t.Fatalf("byte by byte: %v; whole: %v", got, whole)
	}
	return whole
}

func TestChunkedDecoder(t *testing.T) {
	t.Parallel()
	const next = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" // a pipelined request
	long := strings.Repeat("x", maxChunkLine)
	cases := []struct {
		name     string
		in       string
		limit    int
		body     string
		consumed int // -1: all of in; on an error, where Decode stopped
		done     bool
		err      error
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", 64, "hello", -1, true, nil},
		{"three chunks", "5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n", 64, "hello, world", -1, true, nil},
		{"hex sizes in both cases", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", 64, "0123456789abcdefghijk", -1, true, nil},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 64, "hello", -1, true, nil},
		{"empty body", "0\r\n\r\n", 64, "", -1, true, nil},
		{"data holding CRLFs", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 64, "\r\n\r\n", -1, true, nil},
		{"binary data", "3\r\n\x00\xff\n\r\n0\r\n\r\n", 64, "\x00\xff\n", -1, true, nil},
		{"extensions", "5;name=value\r\nhello\r\n3 ; q=\"a;b\"\r\nabc\r\n0;last\r\n\r\n", 64, "helloabc", -1, true, nil},
		{"extension with tab before it", "2\t;x\r\nhi\r\n0\r\n\r\n", 64, "hi", -1, true, nil},
		{"trailers", "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", 64, "hello", -1, true, nil},
		{"longest size line", "1;" + long[:maxChunkLine-4] + "\r\nx\r\n0\r\n\r\n", 64, "x", -1, true, nil},
		{"pipelined request after it", "5\r\nhello\r\n0\r\n\r\n" + next, 64, "hello", len("5\r\nhello\r\n0\r\n\r\n"), true, nil},
		{"pipelined request after trailers", "0\r\nX: y\r\n\r\n" + next, 64, "", len("0\r\nX: y\r\n\r\n"), true, nil},

		{"incomplete size line", "5", 64, "", 0, false, nil},
		{"incomplete data", "5\r\nhel", 64, "hel", -1, false, nil},
		{"half the CRLF after data", "5\r\nhello\r", 64, "hello", len("5\r\nhello"), false, nil},
		{"no blank line after the last chunk", "5\r\nhello\r\n0\r\n", 64, "hello", -1, false, nil},
		{"incomplete trailer", "0\r\nX: y\r\n", 64, "", -1, false, nil},

		{"at the limit", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5, "abcde", -1, true, nil},
		{"over the limit in the second chunk", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, "abc", len("3\r\nabc\r\n3\r\n"), false, ErrBodyTooLarge},
		{"over the limit before the data arrives", "ffffffff\r\n", 1 << 20, "", -1, false, ErrBodyTooLarge},
		{"largest size over the limit", "fffffffffffffff\r\n", 1 << 20, "", -1, false, ErrBodyTooLarge},
		{"zero limit, empty body", "0\r\n\r\n", 0, "", -1, true, nil},
		{"zero limit, one byte", "1\r\nx\r\n0\r\n\r\n", 0, "", len("1\r\n"), false, ErrBodyTooLarge},

		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", 64, "", 0, false, ErrBadBody},
		{"bare LF after the data", "5\r\nhello\n0\r\n\r\n", 64, "hello", len("5\r\nhello"), false, ErrBadBody},
		{"bare LF ending the trailers", "0\r\n\n", 64, "", len("0\r\n"), false, ErrBadBody},
		{"bare LF in a trailer", "0\r\nX: y\n\r\n", 64, "", len("0\r\n"), false, ErrBadBody},
		{"bare CR in the size line", "5\r;x\r\nhello\r\n", 64, "", 0, false, ErrBadBody},
		{"no CRLF after the data", "5\r\nhelloX\r\n0\r\n\r\n", 64, "hello", len("5\r\nhello"), false, ErrBadBody},
		{"more data than the size", "3\r\nhello\r\n0\r\n\r\n", 64, "hel", len("3\r\nhel"), false, ErrBadBody},
		{"empty size", "\r\nhello\r\n", 64, "", len("\r\n"), false, ErrBadBody},
		{"only an extension", ";x\r\nhello\r\n", 64, "", len(";x\r\n"), false, ErrBadBody},
		{"non-hex size", "g\r\nhello\r\n", 64, "", len("g\r\n"), false, ErrBadBody},
		{"0x prefix", "0x5\r\nhello\r\n", 64, "", len("0x5\r\n"), false, ErrBadBody},
		{"negative size", "-5\r\nhello\r\n", 64, "", len("-5\r\n"), false, ErrBadBody},
		{"negative zero", "-0\r\n\r\n", 64, "", len("-0\r\n"), false, ErrBadBody},
		{"plus sign", "+5\r\nhello\r\n", 64, "", len("+5\r\n"), false, ErrBadBody},
		{"space before the size", " 5\r\nhello\r\n", 64, "", len(" 5\r\n"), false, ErrBadBody},
		{"underscore in the size", "1_0\r\n", 64, "", len("1_0\r\n"), false, ErrBadBody},
		{"16 hex digits", "1000000000000000\r\n", 64, "", len("1000000000000000\r\n"), false, ErrBadBody},
		{"overlong size line", "1;" + long + "\r\nx\r\n0\r\n\r\n", 64, "", 0, false, ErrBadBody},
		{"overlong size line, no LF yet", "1;" + long, 64, "", 0, false, ErrBadBody},
		{"overlong trailer line", "0\r\nX: " + long + "\r\n\r\n", 64, "", len("0\r\n"), false, ErrBadBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := chunked{tc.body, tc.consumed, tc.done, tc.err}
			if want.consumed < 0 {
				want.consumed = len(tc.in)
			}
			if got := everyChunkedSplit(t, []byte(tc.in), tc.limit); got != want {
				t.Fatalf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestChunkedDecoderLimitCountsTheBody: the limit is on the body, not on
// dst. A caller may append the body to a buffer that already holds
// something, or hand each call's bytes on and pass an empty dst each time.
func TestChunkedDecoderLimitCountsTheBody(t *testing.T) {
	t.Parallel()
	t.Run("dst holding a prefix", func(t *testing.T) {
		t.Parallel()
		var d ChunkedDecoder
		got, n, done, err := d.Decode([]byte("prefix:"), []byte("5\r\nhello\r\n0\r\n\r\n"), 5)
		if string(got) != "prefix:hello" || n != 15 || !done || err != nil {
			t.Fatalf("Decode = %q, %d, %v, %v", got, n, done, err)
		}
	})
	t.Run("a fresh dst for each call", func(t *testing.T) {
		t.Parallel()
		var d ChunkedDecoder
		total := 0
		for i, part := range []string{"3\r\nabc\r\n", "3\r\ndef\r\n", "0\r\n\r\n"} {
			got, n, _, err := d.Decode(nil, []byte(part), 5)
			total += len(got)
			if i == 1 {
				if err != ErrBodyTooLarge || total != 3 || n != len("3\r\n") {
					t.Fatalf("second chunk past a limit of 5: %q, %d, %v (total %d)", got, n, err, total)
				}
				return
			}
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
		}
	})
}

func TestChunkedDecoderDoneAndReset(t *testing.T) {
	t.Parallel()
	var d ChunkedDecoder
	body := []byte("5\r\nhello\r\n0\r\n\r\n")
	if got, n, done, err := d.Decode(nil, body, 64); string(got) != "hello" || n != len(body) || !done || err != nil {
		t.Fatalf("first body: %q, %d, %v, %v", got, n, done, err)
	}
	// Done: whatever follows is the next request's and stays unconsumed.
	if got, n, done, err := d.Decode(nil, []byte("GET / HTTP/1.1\r\n"), 64); got != nil || n != 0 || !done || err != nil {
		t.Fatalf("after the end: %q, %d, %v, %v", got, n, done, err)
	}
	if _, n, done, err := d.Decode(nil, nil, 64); n != 0 || !done || err != nil {
		t.Fatalf("after the end, no bytes: %d, %v, %v", n, done, err)
	}
	// Reset also forgets the size counted for the limit.
	d.Reset()
	if got, n, done, err := d.Decode(nil, body, 5); string(got) != "hello" || n != len(body) || !done || err != nil {
		t.Fatalf("after Reset: %q, %d, %v, %v", got, n, done, err)
	}
}
