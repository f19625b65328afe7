package codec

import "errors"

// ProtocolError is a violation of RFC 6455 by the peer. Its text becomes the
// reason of the close frame sent back, so it stays short (a close reason is
// at most 123 bytes).
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

func (e *ProtocolError) Error() string { return "codec: " + e.Reason }

// protocolError builds a *ProtocolError; the values below are the ones the
// decoder returns, so callers can compare with errors.Is.
func protocolError(code StatusCode, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// Errors the frame decoder returns. Each carries the close code RFC 6455
// (and DESIGN.md's bad-input table) prescribes for it.
var (
	ErrUnmaskedFrame       = protocolError(StatusProtocolError, "client frame not masked")
	ErrReservedOpCode      = protocolError(StatusProtocolError, "reserved opcode")
	ErrReservedBits        = protocolError(StatusProtocolError, "reserved bits set without extension")
	ErrFragmentedControl   = protocolError(StatusProtocolError, "fragmented control frame")
	ErrControlTooLong      = protocolError(StatusProtocolError, "control frame payload over 125 bytes")
	ErrUnexpectedContinue  = protocolError(StatusProtocolError, "continuation frame without a message")
	ErrExpectedContinue    = protocolError(StatusProtocolError, "data frame inside a fragmented message")
	ErrBadLength           = protocolError(StatusProtocolError, "non-minimal length or length over 2^63-1")
	ErrInvalidUTF8         = protocolError(StatusInvalidPayload, "invalid UTF-8 in text message")
	ErrFrameTooBig         = protocolError(StatusMessageTooBig, "frame over the size limit")
	ErrMessageTooBig       = protocolError(StatusMessageTooBig, "message over the size limit")
	ErrBadCloseCode        = protocolError(StatusProtocolError, "invalid close code")
	ErrBadClosePayload     = protocolError(StatusProtocolError, "close payload of one byte")
	ErrInvalidCloseUTF8    = protocolError(StatusInvalidPayload, "invalid UTF-8 in close reason")
	ErrBadCompressedData   = protocolError(StatusInvalidPayload, "invalid compressed data")
	ErrCompressedTooBig    = protocolError(StatusMessageTooBig, "decompressed message over the size limit")
	ErrCompressedControl   = protocolError(StatusProtocolError, "compressed control frame")
	ErrCompressedContinued = protocolError(StatusProtocolError, "compression bit on a continuation frame")
)

// Errors of the HTTP request parser.
var (
	// ErrHeadTooLarge means the request head did not end within the limit.
	// The answer is 431.
	ErrHeadTooLarge = errors.New("codec: request head too large")
	// ErrMalformedRequest means the request line or a header line does not
	// parse. The answer is 400.
	ErrMalformedRequest = errors.New("codec: malformed request")
)

// Errors of the client command parser.
var (
	// ErrBadCommand means a client message is not a valid command: not
	// UTF-8, not a JSON object, an unknown op, or a topic that ValidTopic
	// refuses. It is
	// answered with an error reply, not a close: the connection stays usable.
	ErrBadCommand = errors.New("codec: bad command")
)

// Errors of the cursor and position parsers.
var (
	// ErrBadCursor means a cursor does not decode to positions on valid
	// topics and epochs. The answer is 400.
	ErrBadCursor = errors.New("codec: bad cursor")
)

// Errors of the HTTP body decoder.
var (
	// ErrBadBody means a request's body framing is invalid: both
	// Content-Length and Transfer-Encoding, an unknown transfer coding, a
	// bad Content-Length or bad chunked framing. The answer is 400, and
	// the connection closes.
	ErrBadBody = errors.New("codec: bad request body framing")
	// ErrBodyTooLarge means a request body passed the limit. The answer is
	// 413.
	ErrBodyTooLarge = errors.New("codec: request body too large")
)

// Errors of ParseProxyHeader.
var (
	// ErrProxyHeader is a PROXY protocol header that breaks the
	// specification or passes the length allowed.
	ErrProxyHeader = errors.New("codec: malformed PROXY protocol header")
	// ErrNoProxyHeader is a connection whose first bytes are not a PROXY
	// protocol header.
	ErrNoProxyHeader = errors.New("codec: no PROXY protocol header")
)

// ErrEIOPacket is an Engine.IO packet that does not decode: empty, of an
// unknown type, or a binary packet with bad base64.
var ErrEIOPacket = errors.New("codec: malformed Engine.IO packet")

// ErrEIOQuery is an Engine.IO request query that does not decode (a bad
// percent escape).
var ErrEIOQuery = errors.New("codec: malformed Engine.IO query")
