package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
)

// Position is where a client stands in one topic: it has seen every
// publication up to Offset in Epoch.
type Position struct {
	Topic  string
	Epoch  string
	Offset uint64
}

// Limits of a cursor: at most MaxCursorTopics positions, epochs of at most
// MaxEpochLen bytes. A cursor names every topic of a session, so its size
// is bounded by the session's topic limit times the longest name.
const (
	MaxCursorTopics = 256
	MaxEpochLen     = 16
)

// cursorVersion is the first byte of a decoded cursor, so that its layout
// can change without old cursors being misread.
const cursorVersion = 1

var cursorEncoding = base64.RawURLEncoding

// AppendCursor appends the cursor of positions to dst: URL-safe base64
// (no padding) over a version byte and, per position, the topic and the
// epoch (each a uvarint length and the bytes) and the offset (a uvarint).
// It is opaque to clients and safe in a URL, an SSE id and a JSON string.
func AppendCursor(dst []byte, ps []Position) []byte {
	var raw [64]byte
	b := append(raw[:0], cursorVersion)
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(len(p.Topic)))
		b = append(b, p.Topic...)
		b = binary.AppendUvarint(b, uint64(len(p.Epoch)))
		b = append(b, p.Epoch...)
		b = binary.AppendUvarint(b, p.Offset)
	}
	return cursorEncoding.AppendEncode(dst, b)
}

// ParseCursor decodes a cursor made by AppendCursor and appends its
// positions to dst. A cursor that does not decode, names an invalid topic
// or epoch, holds more than MaxCursorTopics positions or has bytes left
// over is ErrBadCursor, and dst is returned as it came, with none of the
// positions that came before the fault.
func ParseCursor(dst []Position, s []byte) ([]Position, error) {
	ps, err := parseCursor(dst, s)
	if err != nil {
		return dst, err
	}
	return ps, nil
}

func parseCursor(dst []Position, s []byte) ([]Position, error) {
	if len(s) == 0 || len(s) > cursorEncoding.EncodedLen(1+MaxCursorTopics*(2*binary.MaxVarintLen16+MaxTopicLen+MaxEpochLen+binary.MaxVarintLen64)) {
		return dst, ErrBadCursor
	}
	// The decoder would skip line breaks; a cursor has none.
	if bytes.IndexByte(s, '\r') >= 0 || bytes.IndexByte(s, '\n') >= 0 {
		return dst, ErrBadCursor
	}
	b, err := cursorEncoding.AppendDecode(nil, s)
	if err != nil || len(b) == 0 || b[0] != cursorVersion {
		return dst, ErrBadCursor
	}
	b = b[1:]
	for n := 0; len(b) > 0; n++ {
		if n == MaxCursorTopics {
			return dst, ErrBadCursor
		}
		var p Position
		var topic, epoch []byte
		if topic, b = cutField(b, MaxTopicLen); topic == nil {
			return dst, ErrBadCursor
		}
		if epoch, b = cutField(b, MaxEpochLen); epoch == nil {
			return dst, ErrBadCursor
		}
		off, k := binary.Uvarint(b)
		if k <= 0 {
			return dst, ErrBadCursor
		}
		b = b[k:]
		p.Topic, p.Epoch, p.Offset = string(topic), string(epoch), off
		if !ValidTopic(p.Topic) || !ValidEpoch(p.Epoch) {
			return dst, ErrBadCursor
		}
		dst = append(dst, p)
	}
	return dst, nil
}

// cutField reads a uvarint length of at most limit and that many bytes;
// it returns nil when b is too short or the length over the limit.
func cutField(b []byte, limit int) (field, rest []byte) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(limit) || n > uint64(len(b)-k) {
		return nil, b
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):]
}

// ValidEpoch reports whether e can be an epoch: 1 to MaxEpochLen ASCII
// letters and digits.
func ValidEpoch(e string) bool {
	if len(e) == 0 || len(e) > MaxEpochLen {
		return false
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
