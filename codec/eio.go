package codec

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// EIOType is the type of an Engine.IO v4 packet, as its first byte on the
// wire.
type EIOType byte

// Engine.IO v4 packet types.
const (
	EIOOpen    EIOType = '0'
	EIOClose   EIOType = '1'
	EIOPing    EIOType = '2'
	EIOPong    EIOType = '3'
	EIOMessage EIOType = '4'
	EIOUpgrade EIOType = '5'
	EIONoop    EIOType = '6'
)

// EIOSeparator joins the packets of an HTTP long-polling payload (the
// record separator).
const EIOSeparator = 0x1e

// eioBinaryPrefix starts a binary message in a long-polling payload, whose
// data follows in standard base64.
const eioBinaryPrefix = 'b'

// EIOPacket is one decoded Engine.IO packet.
type EIOPacket struct {
	Type EIOType
	// Binary marks a binary message: a WebSocket binary frame, or a 'b'
	// packet of a polling payload.
	Binary bool
	// Data is what follows the type byte (the probe of "2probe", a
	// message's payload). It aliases the input, or for a 'b' packet the
	// scratch buffer the base64 was decoded into.
	Data []byte
}

// DecodeEIOText decodes one Engine.IO packet in text form: a WebSocket text
// message, or one packet of a polling payload. The base64 of a 'b' packet
// is decoded by appending to scratch, which is returned grown. An empty
// packet, an unknown type or bad base64 is ErrEIOPacket (the reference
// server closes the session on it: "parse error"). Safe for concurrent use.
func DecodeEIOText(p, scratch []byte) (EIOPacket, []byte, error) {
	if len(p) == 0 {
		return EIOPacket{}, scratch, ErrEIOPacket
	}
	if p[0] == eioBinaryPrefix {
		enc := base64.StdEncoding
		src := p[1:]
		if len(src)%4 != 0 {
			enc = base64.RawStdEncoding // tolerated: Node's decoder is lenient about padding
		}
		start := len(scratch)
		scratch = append(scratch, make([]byte, enc.DecodedLen(len(src)))...)
		n, err := enc.Decode(scratch[start:], src)
		if err != nil {
			return EIOPacket{}, scratch[:start], ErrEIOPacket
		}
		scratch = scratch[:start+n]
		return EIOPacket{Type: EIOMessage, Binary: true, Data: scratch[start:]}, scratch, nil
	}
	t := EIOType(p[0])
	if t < EIOOpen || t > EIONoop {
		return EIOPacket{}, scratch, ErrEIOPacket
	}
	return EIOPacket{Type: t, Data: p[1:]}, scratch, nil
}

// SplitEIOPayload returns the first packet of a polling payload and what
// follows its separator; more reports whether another packet follows (an
// empty one included: "4a\x1e" holds two packets, the second empty).
// Safe for concurrent use.
func SplitEIOPayload(payload []byte) (packet, rest []byte, more bool) {
	for i, b := range payload {
		if b == EIOSeparator {
			return payload[:i], payload[i+1:], true
		}
	}
	return payload, nil, false
}

// An outbox of Engine.IO packets holds them in a transport-neutral form,
// so that a session can switch from polling to WebSocket with packets
// queued: each record is a kind byte, a 4-byte big-endian length and the
// bytes. A text record holds the whole packet ("4hello", "2", "6"); a
// binary record holds a binary message's payload.
const (
	eioRecordText   = 0
	eioRecordBinary = 1
	eioRecordHead   = 5
)

// AppendEIORecord appends a packet record of type t with data (a text
// packet), or a binary message of data when binary is set. Safe for
// concurrent use.
func AppendEIORecord(dst []byte, t EIOType, data []byte, bin bool) []byte {
	if bin {
		dst = append(dst, eioRecordBinary)
		dst = binary32(dst, len(data))
		return append(dst, data...)
	}
	dst = append(dst, eioRecordText)
	dst = binary32(dst, 1+len(data))
	dst = append(dst, byte(t))
	return append(dst, data...)
}

func binary32(dst []byte, n int) []byte { return binary.BigEndian.AppendUint32(dst, uint32(n)) }

// EIORecordSize is what AppendEIORecord adds for a packet of n bytes
// after its type byte: the backpressure cost of a queued packet. Safe for
// concurrent use.
func EIORecordSize(n int) int { return eioRecordHead + 1 + n }

// nextEIORecord returns the first record of records and the rest.
func nextEIORecord(records []byte) (bin bool, data, rest []byte) {
	n := int(binary.BigEndian.Uint32(records[1:eioRecordHead]))
	end := eioRecordHead + n
	return records[0] == eioRecordBinary, records[eioRecordHead:end], records[end:]
}

// pollingLen is a record's length in a polling payload.
func pollingLen(bin bool, data []byte) int {
	if bin {
		return 1 + base64.StdEncoding.EncodedLen(len(data))
	}
	return len(data)
}

// AppendEIOPolling appends records as a polling payload: as many whole
// packets as fit in max bytes, and at least one, so that a poll always
// makes progress. It returns the payload and how many bytes of records it
// took. Safe for concurrent use.
func AppendEIOPolling(dst, records []byte, max int) ([]byte, int) {
	used, size := 0, 0
	for rest := records; len(rest) > 0; {
		bin, data, next := nextEIORecord(rest)
		n := pollingLen(bin, data)
		if used > 0 {
			n++ // the separator
		}
		if used > 0 && size+n > max {
			break
		}
		if used > 0 {
			dst = append(dst, EIOSeparator)
		}
		if bin {
			dst = append(dst, eioBinaryPrefix)
			dst = base64.StdEncoding.AppendEncode(dst, data)
		} else {
			dst = append(dst, data...)
		}
		size += n
		used = len(records) - len(next)
		rest = next
	}
	return dst, used
}

// AppendEIOFrames appends records as WebSocket frames, unmasked as a
// server sends them: a text frame per text packet, a binary frame per
// binary message. Safe for concurrent use.
func AppendEIOFrames(dst, records []byte) []byte {
	for rest := records; len(rest) > 0; {
		bin, data, next := nextEIORecord(rest)
		op := OpText
		if bin {
			op = OpBinary
		}
		dst = AppendFrame(dst, op, data)
		rest = next
	}
	return dst
}

// AppendEIOOpen appends the payload of the open packet (after its '0'):
// the session id, the upgrades offered, the heartbeat's interval and
// timeout in milliseconds and the largest payload the server takes. sid
// must need no JSON escaping (the server's ids are base36). Safe for
// concurrent use.
func AppendEIOOpen(dst []byte, sid string, upgrade bool, pingInterval, pingTimeout int64, maxPayload int) []byte {
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, sid)
	if upgrade {
		dst = append(dst, `,"upgrades":["websocket"]`...)
	} else {
		dst = append(dst, `,"upgrades":[]`...)
	}
	dst = append(dst, `,"pingInterval":`...)
	dst = strconv.AppendInt(dst, pingInterval, 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, pingTimeout, 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(maxPayload), 10)
	return append(dst, '}')
}

// EIOError is an error code of the reference Engine.IO server's answers
// to requests it refuses.
type EIOError int

// The reference server's error codes.
const (
	EIOUnknownTransport    EIOError = 0
	EIOUnknownSID          EIOError = 1
	EIOBadHandshakeMethod  EIOError = 2
	EIOBadRequest          EIOError = 3
	EIOForbidden           EIOError = 4
	EIOUnsupportedProtocol EIOError = 5
)

// c1m's own refusals of an Engine.IO request, in the reference's shape,
// numbered from 100 so that no code the reference may add after 5
// collides with them: the per-client limits (429), the connection cap and
// a draining server (503).
const (
	EIOTooManyConnections EIOError = 100 // the address holds its connections (MaxConnsPerIP)
	EIOHandshakeRate      EIOError = 101 // the address opens sessions too fast (HandshakeRate)
	EIOTooManyPolls       EIOError = 102 // the address holds its long-polls (MaxPollsPerIP)
	EIOAtCapacity         EIOError = 103 // the server holds its cap of connections
	EIOShuttingDown       EIOError = 104 // the server drains before it stops
)

var eioErrorMessages = [...]string{
	"Transport unknown", "Session ID unknown", "Bad handshake method",
	"Bad request", "Forbidden", "Unsupported protocol version",
}

// eioLimitMessages are the messages of c1m's codes, from
// EIOTooManyConnections on: the plain-text answers' of the same refusals
// on the other transports.
var eioLimitMessages = [...]string{
	"too many connections from your address", "too many requests from your address",
	"too many polls from your address", "server at capacity", "server shutting down",
}

// Message returns the message for the code: the reference server's, or
// c1m's for its own codes. Safe for concurrent use.
func (e EIOError) Message() string {
	switch {
	case e >= 0 && int(e) < len(eioErrorMessages):
		return eioErrorMessages[e]
	case e >= EIOTooManyConnections && int(e-EIOTooManyConnections) < len(eioLimitMessages):
		return eioLimitMessages[e-EIOTooManyConnections]
	}
	return "Bad request"
}

// AppendEIOError appends the JSON body of a refused Engine.IO request,
// {"code":N,"message":"..."}, with message, or the code's own message when
// message is empty. Safe for concurrent use.
func AppendEIOError(dst []byte, code EIOError, message string) []byte {
	if message == "" {
		message = code.Message()
	}
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, message)
	return append(dst, '}')
}

// StartEIOMessage begins a message record in dst whose payload the caller
// appends next, then seals with EndEIOMessage(dst, at, binary): the way to
// encode a message straight into an outbox. Safe for concurrent use.
func StartEIOMessage(dst []byte) (_ []byte, at int) {
	at = len(dst)
	return append(dst, eioRecordText, 0, 0, 0, 0, byte(EIOMessage)), at
}

// EndEIOMessage seals the message record StartEIOMessage began at at.
// Safe for concurrent use.
func EndEIOMessage(dst []byte, at int, bin bool) []byte {
	if bin {
		dst[at] = eioRecordBinary
		copy(dst[at+eioRecordHead:], dst[at+eioRecordHead+1:])
		dst = dst[:len(dst)-1]
	}
	binary.BigEndian.PutUint32(dst[at+1:at+eioRecordHead], uint32(len(dst)-at-eioRecordHead))
	return dst
}
