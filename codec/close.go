package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// StatusCode is a WebSocket close status code (RFC 6455 section 7.4).
type StatusCode uint16

// Close codes defined by RFC 6455 and the IANA registry.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatus is never sent: it stands for a close frame without a code.
	StatusNoStatus StatusCode = 1005
	// StatusAbnormalClosure is never sent: the connection dropped without a close frame.
	StatusAbnormalClosure StatusCode = 1006
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusMandatoryExt    StatusCode = 1010
	StatusInternalError   StatusCode = 1011
	StatusServiceRestart  StatusCode = 1012
	StatusTryAgainLater   StatusCode = 1013
	StatusBadGateway      StatusCode = 1014
	// StatusTLSHandshake is never sent.
	StatusTLSHandshake StatusCode = 1015
)

// MaxCloseReason is the longest close reason that fits a control frame
// (125 bytes of payload minus the 2-byte code).
const MaxCloseReason = 123

// ValidOnWire reports whether a peer may send code in a close frame:
// 1000-1003, 1007-1014 and the 3000-4999 ranges for libraries and
// applications. 1004-1006, 1015 and everything else are invalid.
func (c StatusCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// ParseClose validates a close frame payload and returns its code and reason.
// An empty payload means no code: StatusNoStatus. The reason aliases payload.
func ParseClose(payload []byte) (StatusCode, []byte, error) {
	switch len(payload) {
	case 0:
		return StatusNoStatus, nil, nil
	case 1:
		return 0, nil, ErrBadClosePayload
	}
	code := StatusCode(binary.BigEndian.Uint16(payload))
	if !code.ValidOnWire() {
		return code, nil, ErrBadCloseCode
	}
	reason := payload[2:]
	if !utf8.Valid(reason) {
		return code, nil, ErrInvalidCloseUTF8
	}
	return code, reason, nil
}

// AppendClose appends a complete, unmasked close frame with code and reason
// to dst. StatusNoStatus yields an empty payload. A reason longer than
// MaxCloseReason is cut at a rune boundary so the frame stays valid.
func AppendClose(dst []byte, code StatusCode, reason string) []byte {
	if code == StatusNoStatus {
		return AppendHeader(dst, OpClose, true, 0)
	}
	reason = truncateUTF8(reason, MaxCloseReason)
	dst = AppendHeader(dst, OpClose, true, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
