package codec

import (
	"bytes"
	"strconv"
)

// BodyKind is how a request delimits its body (RFC 9112 section 6).
type BodyKind uint8

// Body kinds.
const (
	BodyNone    BodyKind = iota // no body
	BodyLength                  // Content-Length bytes
	BodyChunked                 // Transfer-Encoding: chunked
)

// Body says how the request's body is delimited: its kind and, for
// BodyLength, its length. A request with both Content-Length and
// Transfer-Encoding, a transfer coding other than chunked, an invalid or
// repeated Content-Length, or Transfer-Encoding in an HTTP/1.0 request is
// ErrBadBody (RFC 9112 sections 6.1 and 6.3: a server must answer 400 and
// close, as that is how requests are smuggled; an HTTP/1.0 proxy in front
// would not have decoded the chunks). Safe for concurrent use.
func (r *Request) Body() (BodyKind, int64, error) {
	var te, cl []byte
	nte, ncl := 0, 0
	r.EachHeader(func(k, v []byte) bool {
		switch {
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			te = v
			nte++
		case bytes.EqualFold(k, []byte("Content-Length")):
			cl = v
			ncl++
		}
		return true
	})
	switch {
	case nte > 0 && ncl > 0, nte > 1, ncl > 1:
		return BodyNone, 0, ErrBadBody
	case nte == 1:
		if r.Minor == 0 || !bytes.EqualFold(te, []byte("chunked")) {
			return BodyNone, 0, ErrBadBody
		}
		return BodyChunked, 0, nil
	case ncl == 1:
		n, ok := parseDecimal(cl)
		if !ok {
			return BodyNone, 0, ErrBadBody
		}
		if n == 0 {
			return BodyNone, 0, nil
		}
		return BodyLength, n, nil
	}
	return BodyNone, 0, nil
}

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// KeepAlive reports whether the connection stays open after the response:
// never with "Connection: close", which wins over keep-alive (RFC 9112
// section 9.3); otherwise always in HTTP/1.1, and in HTTP/1.0 only with
// "Connection: keep-alive". Safe for concurrent use.
func (r *Request) KeepAlive() bool {
	if r.HasToken("Connection", "close") {
		return false
	}
	return r.Minor > 0 || r.HasToken("Connection", "keep-alive")
}

// ChunkedDecoder decodes a chunked request body incrementally from the
// bytes that have arrived so far; it keeps its place between calls, so a
// body that trickles in is neither rescanned nor copied twice. Trailer
// fields are read and discarded. The zero value is ready to use. Loop-only:
// one per connection.
type ChunkedDecoder struct {
	left  int64 // bytes of the current chunk's data still to copy
	total int64 // body bytes announced so far (chunk sizes), for the limit
	state uint8
}

// Decoder states.
const (
	chunkSize    = iota // expecting a chunk-size line
	chunkData           // copying chunk data (left bytes)
	chunkDataEnd        // expecting the CRLF after chunk data
	chunkTrailer        // expecting trailer lines up to an empty one
	chunkDone
)

// maxChunkLine bounds a chunk-size line (with extensions) or a trailer
// line: a longer one is ErrBadBody rather than a reason to buffer.
const maxChunkLine = 4096

// Decode consumes from b what it can and appends the body bytes it decoded
// to dst. It returns the grown dst, how many bytes of b it consumed (the
// caller discards them), and whether the body ended. It stops at the end of
// the body: bytes after it belong to the next request. A body over limit
// bytes is ErrBodyTooLarge, decided from a chunk's size line before its
// data arrives and counted over the whole body, whatever dst held before
// and whether or not the caller keeps passing the same dst; bad framing is
// ErrBadBody. Loop-only: one goroutine at a time.
func (d *ChunkedDecoder) Decode(dst, b []byte, limit int) ([]byte, int, bool, error) {
	n := 0
	for n < len(b) {
		switch d.state {
		case chunkSize:
			line, ok, err := chunkLine(b[n:])
			if err != nil || !ok {
				return dst, n, false, err
			}
			n += len(line) + 2
			size, ok := parseChunkSize(line)
			if !ok {
				return dst, n, false, ErrBadBody
			}
			if size == 0 {
				d.state = chunkTrailer
				continue
			}
			if size > int64(limit)-d.total {
				return dst, n, false, ErrBodyTooLarge
			}
			d.total += size
			d.left, d.state = size, chunkData
		case chunkData:
			k := int(min(d.left, int64(len(b)-n)))
			dst = append(dst, b[n:n+k]...)
			n += k
			if d.left -= int64(k); d.left == 0 {
				d.state = chunkDataEnd
			}
		case chunkDataEnd:
			if len(b)-n < 2 {
				return dst, n, false, nil
			}
			if b[n] != '\r' || b[n+1] != '\n' {
				return dst, n, false, ErrBadBody
			}
			n += 2
			d.state = chunkSize
		case chunkTrailer:
			line, ok, err := chunkLine(b[n:])
			if err != nil || !ok {
				return dst, n, false, err
			}
			n += len(line) + 2
			if len(line) == 0 {
				d.state = chunkDone
				return dst, n, true, nil
			}
		case chunkDone:
			return dst, n, true, nil
		}
	}
	return dst, n, d.state == chunkDone, nil
}

// Reset makes the decoder ready for a new body.
// Loop-only: one goroutine at a time.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{} }

// chunkLine returns the line at the start of b without its CRLF, whether it
// is complete, and ErrBadBody when it is too long or has a bare CR or LF.
func chunkLine(b []byte) ([]byte, bool, error) {
	i := bytes.IndexByte(b[:min(len(b), maxChunkLine)], '\n')
	if i < 0 {
		if len(b) >= maxChunkLine {
			return nil, false, ErrBadBody
		}
		return nil, false, nil
	}
	if i == 0 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, false, ErrBadBody
	}
	return b[:i-1], true, nil
}

// parseChunkSize parses "hex-size[;extensions]" (RFC 9112 section 7.1),
// ignoring extensions; at most 15 hex digits.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	return n, err == nil && n >= 0 && line[0] != '+' && line[0] != '-'
}
