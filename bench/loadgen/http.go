package loadgen

import (
	"bytes"
	"strconv"
)

// The HTTP/1.1 response side of the HTTP transports: a response head and
// its body framing (RFC 9112 §6), decoded from bytes that arrive split
// anywhere. Pure: no socket, no clock.

// maxHeadBytes bounds a response head; a server that sends more without
// ending it is refused (ErrProtocol), so a broken server cannot grow the
// generator's buffer without end.
const maxHeadBytes = 16 << 10

// maxChunkLine bounds a chunk-size line or a trailer line.
const maxChunkLine = 1 << 10

// bodyFraming is how a response body ends.
type bodyFraming uint8

const (
	framingLength  bodyFraming = iota // Content-Length bytes (0 when absent and the status has no body)
	framingChunked                    // Transfer-Encoding: chunked
	framingClose                      // neither: the body ends when the server closes
)

// responseHead is what the loop needs from a response head.
type responseHead struct {
	status  int
	framing bodyFraming
	length  int64 // framingLength: the body's size
	close   bool  // Connection: close
}

// parseHead parses the response head at the start of p. n is how many
// bytes it took, 0 while p does not hold all of it yet.
func parseHead(p []byte) (h responseHead, n int, err error) {
	hasLength := false
	for first := true; ; first = false {
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			if len(p) > maxHeadBytes {
				return h, 0, ProtocolError("response head over " + strconv.Itoa(maxHeadBytes) + " bytes")
			}
			return h, 0, nil
		}
		line := bytes.TrimSuffix(p[n:n+i], []byte("\r"))
		n += i + 1
		if first {
			// HTTP/1.1 200 OK
			v, rest, ok := bytes.Cut(line, []byte(" "))
			code, _, _ := bytes.Cut(rest, []byte(" "))
			status, cerr := strconv.Atoi(string(code))
			if !ok || !bytes.HasPrefix(v, []byte("HTTP/1.")) || cerr != nil || len(code) != 3 {
				return h, 0, ProtocolError("bad status line " + strconv.Quote(string(line)))
			}
			h.status = status
			continue
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return h, 0, ProtocolError("bad header line " + strconv.Quote(string(line)))
		}
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "content-length"):
			l, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || l < 0 {
				return h, 0, ProtocolError("bad Content-Length " + strconv.Quote(string(value)))
			}
			h.length, hasLength = l, true
		case equalFold(name, "transfer-encoding"):
			if containsFold(value, "chunked") {
				h.framing = framingChunked
			}
		case equalFold(name, "connection"):
			h.close = h.close || containsFold(value, "close")
		}
	}
	switch {
	case h.status/100 == 1 || h.status == 204 || h.status == 304:
		h.framing, h.length = framingLength, 0
	case h.framing == framingChunked:
	case hasLength:
		h.framing = framingLength
	default:
		h.framing = framingClose
	}
	return h, n, nil
}

func equalFold(b []byte, lower string) bool {
	return len(b) == len(lower) && bytes.EqualFold(b, []byte(lower))
}

func containsFold(b []byte, lower string) bool {
	return bytes.Contains(bytes.ToLower(b), []byte(lower))
}

// chunkStep is where a chunked body decoder stands.
type chunkStep uint8

const (
	chunkSize    chunkStep = iota // reading a chunk-size line
	chunkData                     // inside a chunk's data
	chunkDataEnd                  // the CRLF after a chunk's data
	chunkTrailer                  // after the last chunk: trailer lines up to an empty one
)

// bodyDecoder takes the framing off a response body fed in pieces. The
// zero value decodes an empty Content-Length body; newBody sets it from a
// head.
type bodyDecoder struct {
	framing bodyFraming
	left    int64 // framingLength: body bytes still to come; chunked: of the current chunk
	step    chunkStep
}

func newBody(h responseHead) bodyDecoder {
	return bodyDecoder{framing: h.framing, left: h.length}
}

// next decodes from the start of p. data is body bytes (a sub-slice of
// p), used is how many bytes of p it consumed, framing included, and done
// says the body has ended. used == 0 and !done means that p holds no
// complete unit: call again with more bytes.
func (d *bodyDecoder) next(p []byte) (data []byte, used int, done bool, err error) {
	switch d.framing {
	case framingClose:
		return p, len(p), false, nil
	case framingLength:
		k := int(min(d.left, int64(len(p))))
		d.left -= int64(k)
		return p[:k], k, d.left == 0, nil
	}
	switch d.step {
	case chunkSize:
		line, n, err := chunkLine(p)
		if n == 0 || err != nil {
			return nil, 0, false, err
		}
		line, _, _ = bytes.Cut(line, []byte(";")) // chunk extensions
		size, perr := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if perr != nil || size < 0 {
			return nil, 0, false, ProtocolError("bad chunk size " + strconv.Quote(string(line)))
		}
		d.left, d.step = size, chunkData
		if size == 0 {
			d.step = chunkTrailer
		}
		return nil, n, false, nil
	case chunkData:
		k := int(min(d.left, int64(len(p))))
		d.left -= int64(k)
		if d.left == 0 {
			d.step = chunkDataEnd
		}
		return p[:k], k, false, nil
	case chunkDataEnd:
		line, n, err := chunkLine(p)
		if n == 0 || err != nil {
			return nil, 0, false, err
		}
		if len(line) != 0 {
			return nil, 0, false, ProtocolError("chunk data longer than its size")
		}
		d.step = chunkSize
		return nil, n, false, nil
	default: // chunkTrailer
		line, n, err := chunkLine(p)
		if n == 0 || err != nil {
			return nil, 0, false, err
		}
		return nil, n, len(line) == 0, nil
	}
}

// chunkLine returns the line at the start of p without its CRLF (or LF)
// and its length with it; n is 0 while the line is incomplete.
func chunkLine(p []byte) (line []byte, n int, err error) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		if len(p) > maxChunkLine {
			return nil, 0, ProtocolError("chunk line over " + strconv.Itoa(maxChunkLine) + " bytes")
		}
		return nil, 0, nil
	}
	return bytes.TrimSuffix(p[:i], []byte("\r")), i + 1, nil
}
