package codec

import (
	"bytes"
	"io"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// HandshakeConfig configures a Handshaker. Its zero value accepts plain
// WebSocket handshakes with no subprotocol and no compression.
type HandshakeConfig struct {
	// Protocols lists the subprotocols the server speaks, most preferred
	// first. The first of them that the client offers is selected; none
	// selected is not an error (the client decides whether to go on).
	Protocols []string
	// Deflate enables permessage-deflate when non-nil.
	Deflate *DeflateConfig
	// MaxHead is the request head limit; zero means DefaultMaxHead.
	MaxHead int
}

// Handshake is the outcome of a successful opening handshake.
type Handshake struct {
	// Protocol is the selected subprotocol, or "".
	Protocol string
	// Deflate reports whether permessage-deflate was negotiated.
	Deflate bool
	// ClientWindow is, with Deflate, the number of bytes of client context
	// to keep between messages (0 when the client has no context takeover).
	ClientWindow int
	// HuffmanOnly is, with Deflate, set when the client limited the
	// server's LZ77 window below 15 bits: what the server sends it must be
	// compressed at level HuffmanOnly.
	HuffmanOnly bool
}

// Handshaker runs the server side of the WebSocket opening handshake over a
// complete request head with gobwas/ws' Upgrader, so that the handshake is
// fed exactly the head bytes and never reads ahead into frames that were
// pipelined after it. One Handshaker serves many handshakes, one at a time,
// and its callbacks do not allocate per connection. Loop-only: keep one per
// event loop.
type Handshaker struct {
	up        ws.Upgrader
	neg       deflateNegotiator
	protocols []string
	before    func() error
	src       bytes.Reader
	rw        headReadWriter
}

// headReadWriter reads the request head and writes the response.
type headReadWriter struct {
	io.Reader
	io.Writer
}

// NewHandshaker returns a Handshaker for cfg.
func NewHandshaker(cfg HandshakeConfig) *Handshaker {
	h := &Handshaker{protocols: cfg.Protocols}
	maxHead := cfg.MaxHead
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	h.up = ws.Upgrader{
		// The head is complete and bounded before it gets here; a buffer of
		// its size lets every header line fit.
		ReadBufferSize: maxHead,
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			if h.before != nil {
				err := h.before()
				if r, ok := err.(*Rejection); ok {
					return nil, ws.RejectConnectionError(ws.RejectionStatus(r.Status),
						ws.RejectionReason(r.Reason), ws.RejectionHeader(ws.HandshakeHeaderString(r.Header)))
				}
				return nil, err
			}
			return nil, nil
		},
	}
	if len(cfg.Protocols) > 0 {
		h.up.ProtocolCustom = h.selectProtocol
	}
	if cfg.Deflate != nil {
		h.neg.cfg = cfg.Deflate.WithDefaults()
		h.up.Negotiate = h.neg.negotiate
	}
	return h
}

// Upgrade runs the handshake for the complete request head and writes the
// response to w: 101 Switching Protocols on success; otherwise the error
// status gobwas/ws chose (400 for a malformed or incomplete upgrade, 426 with
// Sec-WebSocket-Version: 13 for another version, 405, 505) or the one before
// returned through Reject. before runs once the request is known to be a
// valid upgrade and before anything is written; it may be nil.
func (h *Handshaker) Upgrade(head []byte, w io.Writer, before func() error) (Handshake, error) {
	h.neg.reset()
	h.before = before
	h.src.Reset(head)
	h.rw = headReadWriter{Reader: &h.src, Writer: w}
	hs, err := h.up.Upgrade(&h.rw)
	h.before, h.rw = nil, headReadWriter{}
	if err != nil {
		return Handshake{}, err
	}
	return Handshake{
		Protocol:     hs.Protocol,
		Deflate:      h.neg.accepted,
		ClientWindow: h.neg.window,
		HuffmanOnly:  h.neg.accepted && h.neg.huffman,
	}, nil
}

// selectProtocol picks the server's most preferred protocol among those the
// client lists. Returning ok with "" means none: gobwas treats !ok as a
// malformed request.
func (h *Handshaker) selectProtocol(offer []byte) (string, bool) {
	best := len(h.protocols)
	httphead.ScanTokens(offer, func(tok []byte) bool {
		for i, p := range h.protocols[:best] {
			if string(tok) == p {
				best = i
				break
			}
		}
		return true
	})
	if best == len(h.protocols) {
		return "", true
	}
	return h.protocols[best], true
}

// Reject returns an error for Upgrade's before callback that refuses the
// handshake with an HTTP status and a short reason as the body.
func Reject(status int, reason string) error {
	return ws.RejectConnectionError(ws.RejectionStatus(status), ws.RejectionReason(reason))
}

// Rejection refuses a request with an HTTP status, a short reason as the
// body and header lines (each ending in CR LF): RejectWith's error.
type Rejection struct {
	Status int
	Reason string
	Header string
}

// Error returns the reason. Safe for concurrent use.
func (r *Rejection) Error() string { return r.Reason }

// RejectWith is Reject with header lines in the answer, such as
// "WWW-Authenticate: Bearer\r\n" or "Retry-After: 1\r\n". Safe for
// concurrent use.
func RejectWith(status int, reason, header string) error {
	return &Rejection{Status: status, Reason: reason, Header: header}
}

// RejectStatus returns the HTTP status a handshake error was answered with,
// or 0 when err is not a rejection (for example a write error).
func RejectStatus(err error) int {
	switch rej := err.(type) {
	case *ws.ConnectionRejectedError:
		return rej.StatusCode()
	case *Rejection:
		return rej.Status
	}
	return 0
}

// RejectHeader returns the header lines of a RejectWith error, or "".
// Safe for concurrent use.
func RejectHeader(err error) string {
	if rej, ok := err.(*Rejection); ok {
		return rej.Header
	}
	return ""
}
