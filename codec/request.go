package codec

import (
	"bytes"
)

// DefaultMaxHead is the default limit on a request head: request line,
// headers and the blank line.
const DefaultMaxHead = 16 << 10

var crlfcrlf = []byte("\r\n\r\n")

// HeadLen returns the length of the HTTP request head at the start of b,
// including the blank line that ends it, or 0 when the head is not complete
// yet. from is how many bytes of b an earlier call already searched (pass the
// previous len(b)), so bytes that trickle in are not rescanned. It returns
// ErrHeadTooLarge when limit bytes hold no end of head.
func HeadLen(b []byte, from, limit int) (int, error) {
	start := max(0, from-len(crlfcrlf)+1)
	end := min(len(b), limit)
	if start < end {
		if i := bytes.Index(b[start:end], crlfcrlf); i >= 0 {
			return start + i + len(crlfcrlf), nil
		}
	}
	if len(b) >= limit {
		return 0, ErrHeadTooLarge
	}
	return 0, nil
}

// Request is a parsed HTTP/1.1 request head. Its byte slices alias the head
// passed to ParseRequest and are valid as long as it is.
type Request struct {
	Method   []byte
	Target   []byte // the request-target as sent
	Path     []byte // Target up to '?'
	RawQuery []byte // Target after '?', without it
	Minor    int    // HTTP/1.x minor version
	headers  []byte // header lines, each ending in CRLF
}

// ParseRequest parses a complete request head (as delimited by HeadLen). It
// checks the request line and the shape of each header line, not their
// meaning.
func ParseRequest(head []byte) (Request, error) {
	var r Request
	line, rest, ok := bytes.Cut(head, []byte("\r\n"))
	if !ok {
		return r, ErrMalformedRequest
	}
	method, rest1, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest1, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !isToken(method) {
		return r, ErrMalformedRequest
	}
	if len(proto) != len("HTTP/1.1") || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || proto[7] < '0' || proto[7] > '9' {
		return r, ErrMalformedRequest
	}
	r.Method, r.Target, r.Minor = method, target, int(proto[7]-'0')
	r.Path, r.RawQuery, _ = bytes.Cut(target, []byte("?"))
	// Header lines: everything up to the blank line.
	r.headers = rest[:max(0, len(rest)-2)]
	for hs := r.headers; len(hs) > 0; {
		var l []byte
		l, hs, ok = bytes.Cut(hs, []byte("\r\n"))
		if !ok {
			return r, ErrMalformedRequest
		}
		k, v, found := bytes.Cut(l, []byte(":"))
		if !found || len(k) == 0 || !isToken(k) || !fieldValue(v) {
			return r, ErrMalformedRequest
		}
	}
	return r, nil
}

// Header returns the value of the first header field named name (ASCII
// case-insensitive), trimmed of optional whitespace, or nil.
func (r *Request) Header(name string) []byte {
	var v []byte
	r.EachHeader(func(k, val []byte) bool {
		if len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			v = val
			return false
		}
		return true
	})
	return v
}

// HasToken reports whether any field named name carries token in its
// comma-separated list (ASCII case-insensitive), as Connection: keep-alive,
// Upgrade does.
func (r *Request) HasToken(name, token string) bool {
	found := false
	r.EachHeader(func(k, v []byte) bool {
		if !bytes.EqualFold(k, []byte(name)) {
			return true
		}
		for len(v) > 0 && !found {
			var t []byte
			t, v, _ = bytes.Cut(v, []byte(","))
			found = bytes.EqualFold(trimOWS(t), []byte(token))
		}
		return !found
	})
	return found
}

// EachHeader calls fn for each header field in order until fn returns false.
func (r *Request) EachHeader(fn func(k, v []byte) bool) {
	for hs := r.headers; len(hs) > 0; {
		var l []byte
		l, hs, _ = bytes.Cut(hs, []byte("\r\n"))
		k, v, _ := bytes.Cut(l, []byte(":"))
		if !fn(k, trimOWS(v)) {
			return
		}
	}
}

// IsWebSocketUpgrade reports whether the request asks for a WebSocket
// upgrade (Upgrade: websocket and Connection: upgrade). Whether the rest of
// the handshake is valid is the Handshaker's to decide.
func (r *Request) IsWebSocketUpgrade() bool {
	return r.HasToken("Upgrade", "websocket") && r.HasToken("Connection", "upgrade")
}

// fieldValue reports whether v can be a field value (RFC 9110 section
// 5.5): no control byte but horizontal tab. A bare CR or LF inside a value
// would be a line break to some other parser, which would read different
// headers (and a different body) than this one: request smuggling.
func fieldValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS trims optional whitespace (spaces and tabs, RFC 9110 section
// 5.6.3), and nothing else.
func trimOWS(b []byte) []byte { return bytes.Trim(b, " \t") }

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}
