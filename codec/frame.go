package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// OpCode is a WebSocket frame opcode; it is gobwas/ws' type so values pass
// between the two packages unchanged.
type OpCode = ws.OpCode

// Opcodes of RFC 6455 section 5.2.
const (
	OpContinuation = ws.OpContinuation
	OpText         = ws.OpText
	OpBinary       = ws.OpBinary
	OpClose        = ws.OpClose
	OpPing         = ws.OpPing
	OpPong         = ws.OpPong
)

// Frame header bits and sizes (RFC 6455 section 5.2).
const (
	bitFin   = 0x80
	bitRsv1  = 0x40
	maskRsv  = 0x70
	maskOp   = 0x0f
	bitMask  = 0x80
	maskLen7 = 0x7f

	len16    = 126    // 7-bit length value announcing a 16-bit length
	len64    = 127    // 7-bit length value announcing a 64-bit length
	maxLen16 = 0xffff // largest length a 16-bit length field holds

	// MaxControlPayload is the largest payload a control frame may carry.
	MaxControlPayload = 125
	// MaxHeaderSize is the longest frame header: 2 + 8 length + 4 mask.
	MaxHeaderSize = 14
)

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Rsv    byte // the three RSV bits, RSV1 = 0b100
	Op     OpCode
	Masked bool
	Mask   [4]byte
	Length int64
}

// Rsv1 reports whether the RSV1 bit ("compressed" under permessage-deflate) is set.
func (h Header) Rsv1() bool { return h.Rsv&0b100 != 0 }

// DecodeHeader decodes the frame header at the start of b. It returns the
// header and its size in bytes, or a zero size and a nil error when b does not
// hold the whole header yet. It checks only the encoding itself: the rules
// that depend on the connection's state are the Decoder's.
//
// RFC 6455 section 5.2 requires "the minimal number of bytes" for the
// length: a 16-bit length below 126, a 64-bit length below 65536, or one
// with the most significant bit set is ErrBadLength (close 1002), decided as
// soon as the length field is complete. gobwas/ws' ReadHeader checks only
// the top bit; browsers and the usual clients (Node ws, Python websockets,
// gorilla/websocket, coder/websocket) encode minimally.
func DecodeHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&bitFin != 0
	h.Rsv = (b[0] & maskRsv) >> 4
	h.Op = OpCode(b[0] & maskOp)
	h.Masked = b[1]&bitMask != 0
	n = 2
	switch l := b[1] & maskLen7; l {
	case len16:
		if len(b) < n+2 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[n:]))
		if h.Length < len16 {
			return h, 0, ErrBadLength
		}
		n += 2
	case len64:
		if len(b) < n+8 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[n:])
		if u>>63 != 0 || u <= maxLen16 {
			return h, 0, ErrBadLength
		}
		h.Length = int64(u)
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// AppendHeader appends an unmasked server frame header for a payload of
// length n to dst.
func AppendHeader(dst []byte, op OpCode, fin bool, n int) []byte {
	return appendHeader(dst, byte(op), fin, n)
}

// AppendCompressedHeader appends the header of a single-frame message whose
// payload is compressed with permessage-deflate (RSV1 set).
func AppendCompressedHeader(dst []byte, op OpCode, n int) []byte {
	return appendHeader(dst, byte(op)|bitRsv1, true, n)
}

func appendHeader(dst []byte, b0 byte, fin bool, n int) []byte {
	if fin {
		b0 |= bitFin
	}
	switch {
	case n < len16:
		return append(dst, b0, byte(n))
	case n <= maxLen16:
		return binary.BigEndian.AppendUint16(append(dst, b0, len16), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, len64), uint64(n))
	}
}

// HeaderSize returns the size of an unmasked header for a payload of n bytes.
func HeaderSize(n int) int {
	switch {
	case n < len16:
		return 2
	case n <= maxLen16:
		return 4
	default:
		return 10
	}
}

// AppendFrame appends a complete, unmasked single-frame message to dst.
func AppendFrame(dst []byte, op OpCode, payload []byte) []byte {
	return append(AppendHeader(dst, op, true, len(payload)), payload...)
}

// Unmask XORs p with mask, starting at payload offset off (so a payload can
// be unmasked in pieces). Masking and unmasking are the same operation.
func Unmask(p []byte, mask [4]byte, off int) {
	ws.Cipher(p, mask, off)
}
