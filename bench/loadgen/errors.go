package loadgen

import "errors"

// Errors a Conn can end with, besides socket errors and ProtocolError.
var (
	// ErrHandshakeTimeout: the TCP connect, the handshake or the
	// handler's readiness (Config.WaitReady) did not complete within
	// Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("loadgen: handshake timeout")
	// ErrClosedByServer: the server closed the TCP connection without a
	// close frame, or ended an event stream.
	ErrClosedByServer = errors.New("loadgen: closed by server")
)

// ProtocolError is a server's answer the generator cannot parse, or
// refuses: a bad status line, a chunk size that is not hex, a response
// head or a line over its bound, a refused upgrade.
type ProtocolError string

func (e ProtocolError) Error() string { return "loadgen: " + string(e) }
