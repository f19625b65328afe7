package codec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestResponseHead(t *testing.T) {
	t.Parallel()
	const (
		status200 = "HTTP/1.1 200 OK\r\n"
		json      = "Content-Type: application/json\r\n"
		stream    = "Content-Type: text/event-stream\r\n"
		noCache   = "Cache-Control: no-cache, no-store\r\n"
		cors      = "Access-Control-Allow-Origin: https://app.example\r\n" +
			"Access-Control-Allow-Credentials: true\r\n" +
			"Vary: Origin\r\n"
	)
	origin := []byte("https://app.example")
	cases := []struct {
		name    string
		head    ResponseHead
		want    string
		length  int64 // as net/http reads it: -1 for chunked or close-delimited
		chunked bool
		close   bool
	}{
		{"content length", ResponseHead{Status: 200, ContentType: "application/json", Length: 5, Minor: 1},
			status200 + json + noCache + "Content-Length: 5\r\n\r\n", 5, false, false},
		{"empty body", ResponseHead{Status: 202, Minor: 1},
			"HTTP/1.1 202 Accepted\r\n" + noCache + "Content-Length: 0\r\n\r\n", 0, false, false},
		{"content length, then close", ResponseHead{Status: 400, ContentType: "text/plain", Length: 3, Close: true, Minor: 1},
			"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" + noCache + "Content-Length: 3\r\nConnection: close\r\n\r\n", 3, false, true},
		{"chunked stream, 1.1", ResponseHead{Status: 200, ContentType: "text/event-stream", Length: -1, Minor: 1},
			status200 + stream + noCache + "Transfer-Encoding: chunked\r\n\r\n", -1, true, false},
		{"chunked stream, 1.1, then close", ResponseHead{Status: 200, Length: -1, Close: true, Minor: 1},
			status200 + noCache + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", -1, true, true},
		{"close-delimited stream, 1.0", ResponseHead{Status: 200, ContentType: "text/event-stream", Length: -1, Minor: 0},
			status200 + stream + noCache + "Connection: close\r\n\r\n", -1, false, true},
		{"keep-alive, 1.0", ResponseHead{Status: 200, ContentType: "application/json", Length: 2, Minor: 0},
			status200 + json + noCache + "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n", 2, false, false},
		{"content length, 1.0, then close", ResponseHead{Status: 200, Length: 2, Close: true, Minor: 0},
			status200 + noCache + "Content-Length: 2\r\nConnection: close\r\n\r\n", 2, false, true},
		{"CORS", ResponseHead{Status: 200, ContentType: "application/json", Length: 2, Minor: 1, Origin: origin},
			status200 + json + noCache + "Content-Length: 2\r\n" + cors + "\r\n", 2, false, false},
		{"CORS and extra lines", ResponseHead{Status: 503, Length: 0, Minor: 1, Origin: origin, Extra: "Retry-After: 5\r\n"},
			"HTTP/1.1 503 Service Unavailable\r\n" + noCache + "Content-Length: 0\r\n" + cors + "Retry-After: 5\r\n\r\n", 0, false, false},
		{"preflight, no content", ResponseHead{Status: 204, Minor: 1, Origin: origin, Extra: PreflightHeaders},
			"HTTP/1.1 204 No Content\r\n" + noCache + cors +
				"Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n" +
				"Access-Control-Allow-Headers: Content-Type, Last-Event-ID, Authorization, Cache-Control\r\n" +
				"Access-Control-Max-Age: 600\r\n\r\n", 0, false, false},
		{"no content, stream length, 1.0", ResponseHead{Status: 204, Length: -1, Minor: 0},
			"HTTP/1.1 204 No Content\r\n" + noCache + "Connection: keep-alive\r\n\r\n", 0, false, false},
		{"not modified", ResponseHead{Status: 304, Length: 10, Minor: 1},
			"HTTP/1.1 304 Not Modified\r\n" + noCache + "\r\n", 0, false, false},
		{"origin with a line break", ResponseHead{Status: 200, Length: 0, Minor: 1, Origin: []byte("https://a\nSet-Cookie: s=1")},
			status200 + noCache + "Content-Length: 0\r\n\r\n", 0, false, false},
		{"unknown status", ResponseHead{Status: 599, Length: 0, Minor: 1},
			"HTTP/1.1 599 \r\n" + noCache + "Content-Length: 0\r\n\r\n", 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			head := tc.head.AppendHead([]byte("prefix"))
			if got := string(head[len("prefix"):]); got != tc.want {
				t.Fatalf("head\n%q\nwant\n%q", got, tc.want)
			}
			if tc.head.Chunked() != tc.chunked {
				t.Fatalf("Chunked() = %v, want %v", tc.head.Chunked(), tc.chunked)
			}
			// A body in the framing the head announces, then (unless the
			// connection closes) a second response on the same connection:
			// net/http reads both, so the head delimits the body exactly.
			var body []byte
			switch {
			case tc.length > 0:
				body = bytes.Repeat([]byte("b"), int(tc.length))
			case tc.chunked:
				body = []byte("stream")
			case tc.close && tc.length < 0:
				body = []byte("until the end")
			}
			wire := []byte(tc.want)
			if tc.chunked {
				wire = append(AppendChunk(wire, body), LastChunk...)
			} else {
				wire = append(wire, body...)
			}
			next := ResponseHead{Status: 200, Length: 4, Minor: 1}
			if !tc.close {
				wire = append(next.AppendHead(wire), "next"...)
			}
			br := bufio.NewReader(bytes.NewReader(wire))
			resp := readResponse(t, br, string(body))
			if resp.ContentLength != tc.length || resp.Close != tc.close || (len(resp.TransferEncoding) > 0) != tc.chunked {
				t.Fatalf("net/http reads length %d, close %v, transfer encoding %q", resp.ContentLength, resp.Close, resp.TransferEncoding)
			}
			if resp.StatusCode != tc.head.Status || resp.Header.Get("Cache-Control") != "no-cache, no-store" {
				t.Fatalf("net/http reads status %d, header %v", resp.StatusCode, resp.Header)
			}
			if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "" && o != string(tc.head.Origin) {
				t.Fatalf("allowed origin %q", o)
			}
			if len(resp.Header.Values("Set-Cookie")) > 0 {
				t.Fatalf("a header line of the client's: %v", resp.Header)
			}
			if !tc.close {
				readResponse(t, br, "next")
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("bytes left after the responses: %v", err)
			}
		})
	}
}

// readResponse reads a response with net/http and checks its body.
func readResponse(t *testing.T, br *bufio.Reader, body string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("net/http: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != body {
		t.Fatalf("net/http reads body %q (%v), want %q", got, err, body)
	}
	return resp
}

func TestAppendCORS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		origin string
		want   string
	}{
		{"https", "https://app.example", "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"},
		{"port and punycode", "http://xn--bcher-kva.example:8080", "Access-Control-Allow-Origin: http://xn--bcher-kva.example:8080\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"},
		{"empty", "", ""},
		{"bare LF", "https://a\nSet-Cookie: s=1", ""},
		{"bare CR", "https://a\rSet-Cookie: s=1", ""},
		{"CRLF", "https://a\r\nSet-Cookie: s=1", ""},
		{"space", "https://a b", ""},
		{"tab", "https://a\tb", ""},
		{"NUL", "https://a\x00", ""},
		{"DEL", "https://a\x7f", ""},
		{"not ASCII", "https://bücher.example", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(AppendCORS([]byte("X: y\r\n"), []byte(tc.origin))); got != "X: y\r\n"+tc.want {
				t.Fatalf("AppendCORS = %q, want %q", got, "X: y\r\n"+tc.want)
			}
		})
	}
}

// TestChunks builds chunked bodies with AppendChunk (and AppendChunkHeader
// for sizes that take several hex digits) and LastChunk, and reads them
// back with net/http's chunked reader and with ChunkedDecoder.
func TestChunks(t *testing.T) {
	t.Parallel()
	if got := string(AppendChunk([]byte("x"), []byte("hello"))); got != "x5\r\nhello\r\n" {
		t.Fatalf("AppendChunk = %q", got)
	}
	if got := string(AppendChunk([]byte("x"), nil)); got != "x" {
		t.Fatalf("an empty chunk, which would end the body: %q", got)
	}
	cases := []struct {
		name   string
		chunks []int // sizes
		head   string
	}{
		{"one byte", []int{1}, "1\r\n"},
		{"15 bytes", []int{15}, "f\r\n"},
		{"16 bytes", []int{16}, "10\r\n"},
		{"255 bytes", []int{255}, "ff\r\n"},
		{"64 KiB", []int{64 << 10}, "10000\r\n"},
		{"several, with an empty one", []int{3, 0, 4096, 1}, "3\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var wire, want []byte
			for i, n := range tc.chunks {
				p := bytes.Repeat([]byte{'a' + byte(i)}, n)
				want = append(want, p...)
				wire = AppendChunk(wire, p)
			}
			if !strings.HasPrefix(string(wire), tc.head) {
				t.Fatalf("first chunk starts %q, want %q", wire[:min(len(wire), 8)], tc.head)
			}
			wire = append(wire, LastChunk...)
			got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(wire)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("net/http reads %d bytes (%v), want %d", len(got), err, len(want))
			}
			var d ChunkedDecoder
			got, n, done, err := d.Decode(nil, wire, len(want))
			if err != nil || !done || n != len(wire) || !bytes.Equal(got, want) {
				t.Fatalf("ChunkedDecoder reads %d bytes, consumed %d of %d, done %v, %v", len(got), n, len(wire), done, err)
			}
		})
	}
}
