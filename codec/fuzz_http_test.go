package codec

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Fuzz targets of the HTTP transports' codec: bodies, cursors, SSE and
// JSONP callback names. Seed inputs live in testdata/fuzz/<FuzzName>/.

// FuzzChunkedDecoder: any input decodes the same fed whole and split where
// the fuzzer says (as an event loop feeds it), never past the limit, and a
// body it accepts is what net/http reads too, up to the same byte, when
// net/http accepts it.
func FuzzChunkedDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint16(4), uint16(64))
	f.Add([]byte("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint16(12), uint16(64))
	f.Add([]byte("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"), uint16(9), uint16(5))
	f.Add([]byte("fffffff\r\n"), uint16(1), uint16(1000))
	f.Add([]byte("5\nhello\r\n0\r\n\r\n"), uint16(2), uint16(64))
	f.Fuzz(func(t *testing.T, input []byte, split, limit16 uint16) {
		limit := int(limit16)
		whole := decodeChunked(input, limit)
		if parts := decodeChunked(input, limit, int(split)); parts != whole {
			t.Fatalf("%q at a limit of %d\nwhole:       %v\nsplit at %d: %v", input, limit, whole, split, parts)
		}
		if len(whole.body) > limit {
			t.Fatalf("%q: a body of %d bytes passed a limit of %d", input, len(whole.body), limit)
		}
		if whole.consumed < 0 || whole.consumed > len(input) {
			t.Fatalf("%q: consumed %d of %d bytes", input, whole.consumed, len(input))
		}
		switch whole.err {
		case nil:
		case ErrBadBody, ErrBodyTooLarge:
			if whole.done {
				t.Fatalf("%q: done with %v", input, whole.err)
			}
			return
		default:
			t.Fatalf("%q: unexpected error %v", input, whole.err)
		}
		if !whole.done {
			// Waiting for more: what is left is part of a line, shorter
			// than a line may be, or part of the CRLF after chunk data.
			if rest := len(input) - whole.consumed; rest >= maxChunkLine {
				t.Fatalf("%q: waits for more with %d bytes unconsumed", input, rest)
			}
			return
		}
		// The body re-framed by our encoder decodes to itself.
		body := []byte(whole.body)
		reframed := append(AppendChunk(nil, body), LastChunk...)
		if again := decodeChunked(reframed, limit); again != (chunked{whole.body, len(reframed), true, nil}) {
			t.Fatalf("%q re-framed as %q decodes as %v", whole.body, reframed, again)
		}
		// net/http, reading the body of a chunked request, reads the same
		// data and stops at the same byte (after the trailer), when it
		// accepts the framing: it rejects a few things RFC 9112 allows,
		// such as a space before a chunk extension, or a trailer line that
		// is no header field.
		const head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		src := bytes.NewReader(append([]byte(head), input...))
		br := bufio.NewReader(src)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http: %v", err)
		}
		if got, err := io.ReadAll(req.Body); err == nil {
			consumed := len(input) - src.Len() - br.Buffered()
			if string(got) != whole.body || consumed != whole.consumed {
				t.Fatalf("%q: net/http reads %q and stops at %d, ChunkedDecoder %q and %d", input, got, consumed, whole.body, whole.consumed)
			}
		}
	})
}

// FuzzParseCursor: ParseCursor never panics, accepts only valid positions,
// leaves dst alone when it fails, and what it accepts re-encodes to a
// cursor that parses to the same positions.
func FuzzParseCursor(f *testing.F) {
	f.Add(AppendCursor(nil, []Position{{"news", "k3v9q0", 42}}))
	f.Add(AppendCursor(nil, []Position{{"news", "k3v9q0", 1 << 63}, {"a/b", "E", 0}, {"~", "0123456789abcdef", 300}}))
	f.Add(AppendCursor(nil, nil))
	f.Add([]byte("AQY_Pz8-Pj4BRQc"))
	f.Add([]byte("AQRuZXdzBmszdjlxMAcA"))
	f.Fuzz(func(t *testing.T, s []byte) {
		dst := []Position{{"kept", "E", 1}}
		ps, err := ParseCursor(slices.Clip(dst), s)
		if err != nil {
			if err != ErrBadCursor || !slices.Equal(ps, dst) {
				t.Fatalf("%q: %v with %d positions", s, err, len(ps))
			}
			return
		}
		if ps[0] != dst[0] || len(ps)-1 > MaxCursorTopics {
			t.Fatalf("%q: %d positions after %v", s, len(ps)-1, ps[0])
		}
		ps = ps[1:]
		for _, p := range ps {
			if !ValidTopic(p.Topic) || !ValidEpoch(p.Epoch) {
				t.Fatalf("%q: accepted %+v", s, p)
			}
		}
		c := AppendCursor(nil, ps)
		again, err := ParseCursor(nil, c)
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("%q parses as %v, which re-encodes as %q, which parses as %v (%v)", s, ps, c, again, err)
		}
	})
}

// FuzzRequestBody: Body and KeepAlive never panic on a parsed head; what
// Body decides follows from the head's fields; and where net/http also
// reads the head, it delimits the body and keeps the connection the same
// way.
func FuzzRequestBody(f *testing.F) {
	f.Add([]byte("POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"))
	f.Add([]byte("POST /send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("POST /send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive, close\r\nContent-Length: 007\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nX: a\nContent-Length: 5\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\xc2\x85\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1024
		n, err := HeadLen(b, 0, limit)
		if n == 0 || err != nil {
			return
		}
		head := b[:n]
		r, err := ParseRequest(head)
		if err != nil {
			return
		}
		kind, length, err := r.Body()
		keep := r.KeepAlive()

		var te, cl [][]byte
		plainConnection := true // Connection holds only visible ASCII, SP and HTAB
		r.EachHeader(func(k, v []byte) bool {
			switch {
			case bytes.EqualFold(k, []byte("Transfer-Encoding")):
				te = append(te, v)
			case bytes.EqualFold(k, []byte("Content-Length")):
				cl = append(cl, v)
			case bytes.EqualFold(k, []byte("Connection")):
				plainConnection = plainConnection && !bytes.ContainsFunc(v, func(c rune) bool { return c != '\t' && (c < ' ' || c >= 0x7f) })
			}
			return true
		})
		switch {
		case err != nil:
			if err != ErrBadBody || kind != BodyNone || length != 0 {
				t.Fatalf("%q: %d %d %v", head, kind, length, err)
			}
		case kind == BodyLength:
			if length <= 0 || len(te) != 0 || len(cl) != 1 || strings.Trim(string(cl[0]), "0123456789") != "" {
				t.Fatalf("%q: a body of length %d", head, length)
			}
		case kind == BodyChunked:
			if length != 0 || len(te) != 1 || len(cl) != 0 || !strings.EqualFold(string(te[0]), "chunked") || r.Minor == 0 {
				t.Fatalf("%q: a chunked body (%d)", head, length)
			}
		case kind == BodyNone:
			if length != 0 || len(te) != 0 || len(cl) > 1 || len(cl) == 1 && strings.Trim(string(cl[0]), "0") != "" {
				t.Fatalf("%q: no body (%d)", head, length)
			}
		default:
			t.Fatalf("%q: body kind %d", head, kind)
		}

		// net/http takes a bare CR or LF inside a header line as a line
		// end, where ParseRequest keeps it in the field value: the heads
		// then differ before their bodies do.
		if bytes.Count(head, []byte("\r")) != bytes.Count(head, []byte("\r\n")) || bytes.Count(head, []byte("\n")) != bytes.Count(head, []byte("\r\n")) {
			return
		}
		req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if herr != nil {
			return
		}
		if err == nil {
			chunkedToo := len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"
			var want int64
			if kind == BodyLength {
				want = length
			}
			if chunkedToo != (kind == BodyChunked) || !chunkedToo && req.ContentLength != want {
				t.Fatalf("%q: body %d of %d; net/http: length %d, transfer encoding %q", head, kind, length, req.ContentLength, req.TransferEncoding)
			}
		}
		// HasToken trims a list element with bytes.TrimSpace, which also
		// drops \v, \f, U+0085 and U+00A0, where net/http trims only SP
		// and HTAB (RFC 9110's OWS): "close\u0085" is close to one, not to
		// the other.
		if plainConnection && keep == req.Close {
			t.Fatalf("%q: keep-alive %v; net/http: close %v", head, keep, req.Close)
		}
	})
}

// FuzzSSE: any data framed by AppendSSE reads back, through a parser that
// follows the WHATWG spec, as one event with that data, its line breaks
// made LF, and with the event name and id given (which hold no line
// break, as AppendSSE requires).
func FuzzSSE(f *testing.F) {
	f.Add("", []byte("hello"), []byte("AQRu"))
	f.Add("reset", []byte("a\r\nb\rc\n\rd\n"), []byte(""))
	f.Add("open", []byte("\r\n\r"), []byte("c1"))
	f.Add(" spaced", []byte(": data: not a field\n"), []byte(" id"))
	f.Fuzz(func(t *testing.T, event string, data, id []byte) {
		noBreak := func(r rune) rune {
			if r == '\r' || r == '\n' {
				return -1
			}
			return r
		}
		event = strings.Map(noBreak, event)
		id = bytes.Map(noBreak, id)
		stream := AppendSSE(nil, event, data, id)
		events, _ := parseSSE(stream)
		want := sseEvent{cmp.Or(event, "message"), sseLines(string(data)), string(id)}
		if bytes.IndexByte(id, 0) >= 0 {
			want.LastEventID = "" // an id with NUL is ignored
		}
		if len(events) != 1 || events[0] != want {
			t.Fatalf("%q reads as %+v, want %+v", stream, events, want)
		}
	})
}

// FuzzValidCallback: ValidCallback accepts exactly the dotted JavaScript
// identifiers (ASCII) of at most MaxCallbackLen bytes.
func FuzzValidCallback(f *testing.F) {
	f.Add([]byte("jQuery123_456"))
	f.Add([]byte("a.b.c"))
	f.Add([]byte("$._"))
	f.Add([]byte("alert(1)//"))
	f.Add([]byte("a..b"))
	f.Fuzz(func(t *testing.T, name []byte) {
		ok := ValidCallback(name)
		if want := callbackRE.Match(name) && len(name) <= MaxCallbackLen; ok != want {
			t.Fatalf("ValidCallback(%q) = %v, want %v", name, ok, want)
		}
	})
}
