package codec

import (
	"net/http"
	"strconv"
)

// ResponseHead describes the head of an HTTP/1.1 response that keeps the
// connection open (unlike AppendResponse, which closes it).
type ResponseHead struct {
	Status      int
	ContentType string
	// Length is the body's length; negative means a chunked body (a
	// stream), answered close-delimited to an HTTP/1.0 client instead.
	// A 1xx, 204 or 304 response has no body whatever Length says, and
	// its head no Content-Length or Transfer-Encoding (RFC 9110 section
	// 8.6: a server must not send Content-Length in a 1xx or a 204).
	Length int
	// Close ends the connection after the response.
	Close bool
	// Minor is the request's HTTP/1.x minor version: 0 gets no chunked
	// encoding.
	Minor int
	// Extra is zero or more header lines, each ending in CRLF.
	Extra string
	// Origin, when set, is echoed as the allowed CORS origin, with
	// credentials allowed.
	Origin []byte
}

// Chunked reports whether the body is sent with chunked framing.
// Safe for concurrent use.
func (h *ResponseHead) Chunked() bool { return h.Length < 0 && h.Minor > 0 && !bodyless(h.Status) }

// bodyless reports whether a response with this status ends with its head
// (RFC 9112 section 6.3), so that its head carries no framing.
func bodyless(status int) bool {
	return status >= 100 && status < 200 || status == http.StatusNoContent || status == http.StatusNotModified
}

// AppendHead appends the response head, ending with the blank line.
// Safe for concurrent use.
func (h *ResponseHead) AppendHead(dst []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(h.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(h.Status)...)
	dst = append(dst, "\r\n"...)
	if h.ContentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, h.ContentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Cache-Control: no-cache, no-store\r\n"...)
	noBody := bodyless(h.Status)
	switch {
	case noBody:
	case h.Length >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(h.Length), 10)
		dst = append(dst, "\r\n"...)
	case h.Minor > 0:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if h.Close || (h.Length < 0 && h.Minor == 0 && !noBody) {
		dst = append(dst, "Connection: close\r\n"...)
	} else if h.Minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	if len(h.Origin) > 0 {
		dst = AppendCORS(dst, h.Origin)
	}
	dst = append(dst, h.Extra...)
	return append(dst, "\r\n"...)
}

// AppendCORS appends the CORS header lines that let origin read the
// response with credentials (cookies). An origin with a byte outside
// visible ASCII cannot be one (RFC 6454 serializes an origin in ASCII, an
// IDN in punycode) and appends nothing: the request parser passes a bare
// CR or LF in a field value, and echoed, it would end the line and start
// a header field of the client's choosing.
func AppendCORS(dst, origin []byte) []byte {
	if !validOrigin(origin) {
		return dst
	}
	dst = append(dst, "Access-Control-Allow-Origin: "...)
	dst = append(dst, origin...)
	return append(dst, "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"...)
}

// validOrigin reports whether origin is 1 or more bytes of visible ASCII.
func validOrigin(origin []byte) bool {
	for _, c := range origin {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return len(origin) > 0
}

// PreflightHeaders are the extra lines of the answer to a CORS preflight
// (OPTIONS): the methods and request headers the transports use, cached
// for ten minutes.
const PreflightHeaders = "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n" +
	"Access-Control-Allow-Headers: Content-Type, Last-Event-ID, Authorization, Cache-Control\r\n" +
	"Access-Control-Max-Age: 600\r\n"

// AppendChunkHeader appends the size line of a chunk of n bytes (n > 0).
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 16)
	return append(dst, "\r\n"...)
}

// AppendChunk appends p as one chunk; an empty p appends nothing (an empty
// chunk would end the body).
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(p))
	dst = append(dst, p...)
	return append(dst, "\r\n"...)
}

// LastChunk ends a chunked body (with no trailer).
const LastChunk = "0\r\n\r\n"
