package codec

import "github.com/valyala/bytebufferpool"

// Limits bound what one peer can make the server hold. Both are decided from
// frame headers, before the payload arrives.
type Limits struct {
	// MaxFrame is the largest frame payload accepted, in bytes.
	MaxFrame int64
	// MaxMessage is the largest message accepted, in bytes: the sum of its
	// fragments, and for a compressed message also its decompressed size.
	MaxMessage int64
}

// Frame is one result of Decoder.Decode.
type Frame struct {
	// Op is OpText or OpBinary for a complete message; OpClose, OpPing or
	// OpPong for a control frame; zero when a fragment was consumed and
	// nothing is ready yet, or when more bytes are needed (then n is zero).
	Op OpCode
	// Payload is the unmasked message or control payload. It aliases either
	// the input (a single-frame message) or the decoder's own buffer, and is
	// valid until the next call to Decode or Release, and no longer than the
	// input bytes.
	Payload []byte
	// Need is, when more bytes are needed, the total the buffer must hold
	// for this frame to complete (0 when not yet known). A caller can wait
	// for that many bytes before decoding again.
	Need int
}

// partialCheckMax bounds the fail-fast UTF-8 check of an incomplete frame:
// the prefix of a text frame is validated while the frame is still arriving,
// as long as the bytes buffered for it are at most this many. Past that, a
// caller that re-reads the whole buffer on every arrival would do quadratic
// work, and the check waits for the frame to complete.
const partialCheckMax = 64 << 10

// Decoder decodes the client frames of one connection incrementally from a
// byte slice, enforcing RFC 6455 (server side) and the limits. It never
// consumes an incomplete frame: it returns n == 0 and the caller keeps the
// bytes. A frame is unmasked in place when it is complete.
//
// Its zero value decodes without extensions. Loop-only: it belongs to one
// connection.
type Decoder struct {
	// Inflater is set when permessage-deflate was negotiated; it allows RSV1
	// on the first frame of a data message.
	Inflater *Inflater

	// Ordered by size: the decoder is in every connection's state.
	asm        *bytebufferpool.ByteBuffer
	out        *bytebufferpool.ByteBuffer // holds the last message returned from asm or inflate
	msgLen     int64                      // bytes of the message in progress so far
	partial    int64                      // payload bytes of the incomplete frame already validated
	utf8       UTF8State                  // validator state at the end of the last complete fragment
	partUTF8   UTF8State                  // validator state after those bytes
	op         OpCode                     // opcode of the message in progress; 0 between messages
	compressed bool                       // the message in progress has RSV1
}

// Decode decodes the next frame at the start of buf. It returns the frame, the
// number of bytes consumed, and a *ProtocolError (with its close code) when the
// peer broke the protocol or a limit; after an error the connection must be
// closed.
func (d *Decoder) Decode(buf []byte, lim *Limits) (f Frame, n int, err error) {
	d.recycle()
	h, hn, err := DecodeHeader(buf)
	if err != nil || hn == 0 {
		return f, 0, err
	}
	if err := d.check(&h, lim); err != nil {
		return f, 0, err
	}
	total := int64(hn) + h.Length
	if int64(len(buf)) < total {
		f.Need = int(total)
		return f, 0, d.checkPartial(&h, buf[hn:])
	}
	n = int(total)
	payload := buf[hn:n]
	Unmask(payload, h.Mask, 0)

	if h.Op.IsControl() {
		if h.Op == OpClose {
			if _, _, err := ParseClose(payload); err != nil {
				return f, 0, err
			}
		}
		return Frame{Op: h.Op, Payload: payload}, n, nil
	}

	if h.Op != OpContinuation {
		d.op, d.compressed, d.msgLen, d.utf8 = h.Op, h.Rsv1(), 0, 0
	}
	d.msgLen += h.Length
	if d.op == OpText && !d.compressed {
		st := d.utf8
		from := int64(0)
		if d.partial > 0 {
			st, from = d.partUTF8, d.partial
		}
		st, ok := st.Feed(payload[from:])
		if !ok || (h.Fin && !st.Complete()) {
			return f, 0, ErrInvalidUTF8
		}
		d.utf8 = st
	}
	d.partial = 0

	if h.Fin && d.asm == nil && !d.compressed {
		op := d.op
		d.op = 0
		return Frame{Op: op, Payload: payload}, n, nil
	}
	if !h.Fin || d.asm != nil {
		if d.asm == nil {
			d.asm = bytebufferpool.Get()
		}
		d.asm.B = append(d.asm.B, payload...)
		if !h.Fin {
			return f, n, nil
		}
		payload = d.asm.B
	}
	// The message is complete: payload holds it, from buf or from asm.
	op := d.op
	d.op = 0
	if d.compressed {
		d.out = bytebufferpool.Get()
		msg, err := d.Inflater.Inflate(d.out, payload, lim.MaxMessage)
		if err != nil {
			return f, 0, err
		}
		if op == OpText && !ValidUTF8(msg) {
			return f, 0, ErrInvalidUTF8
		}
		payload = msg
		if d.asm != nil {
			bytebufferpool.Put(d.asm)
			d.asm = nil
		}
	} else if d.asm != nil {
		d.out, d.asm = d.asm, nil
	}
	return Frame{Op: op, Payload: payload}, n, nil
}

// check applies the rules that depend on the connection's state.
func (d *Decoder) check(h *Header, lim *Limits) error {
	if !h.Masked {
		return ErrUnmaskedFrame
	}
	switch h.Op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return ErrReservedOpCode
	}
	if h.Rsv&0b011 != 0 || (h.Rsv1() && d.Inflater == nil) {
		return ErrReservedBits
	}
	if h.Op.IsControl() {
		switch {
		case !h.Fin:
			return ErrFragmentedControl
		case h.Length > MaxControlPayload:
			return ErrControlTooLong
		case h.Rsv1():
			return ErrCompressedControl
		}
		return nil
	}
	switch {
	case h.Op == OpContinuation && d.op == 0:
		return ErrUnexpectedContinue
	case h.Op == OpContinuation && h.Rsv1():
		return ErrCompressedContinued
	case h.Op != OpContinuation && d.op != 0:
		return ErrExpectedContinue
	case h.Length > lim.MaxFrame:
		return ErrFrameTooBig
	}
	msgLen := h.Length
	if h.Op == OpContinuation {
		msgLen += d.msgLen
	}
	if msgLen > lim.MaxMessage {
		return ErrMessageTooBig
	}
	return nil
}

// checkPartial validates the UTF-8 of the part of an incomplete text frame
// that has arrived, without changing the buffer (it is unmasked into a small
// stack copy), so an invalid text message fails before its end arrives.
func (d *Decoder) checkPartial(h *Header, avail []byte) error {
	text := h.Op == OpText || (h.Op == OpContinuation && d.op == OpText)
	if !text || h.Rsv1() || d.compressed && h.Op == OpContinuation || len(avail) > partialCheckMax {
		return nil
	}
	st := d.utf8
	if d.partial > 0 {
		st = d.partUTF8
	}
	var chunk [256]byte
	for off := d.partial; off < int64(len(avail)); {
		c := chunk[:copy(chunk[:], avail[off:])]
		Unmask(c, h.Mask, int(off))
		var ok bool
		if st, ok = st.Feed(c); !ok {
			return ErrInvalidUTF8
		}
		off += int64(len(c))
	}
	d.partial, d.partUTF8 = int64(len(avail)), st
	return nil
}

// recycle returns the buffer of the previously returned message.
func (d *Decoder) recycle() {
	if d.out != nil {
		bytebufferpool.Put(d.out)
		d.out = nil
	}
}

// Recycle returns the buffer of the last message, if the decoder holds
// one (a fragmented or compressed message), to its pool: that message's
// Payload is invalid from then on. Call it once done with the input at
// hand, so that an idle connection holds no message buffer.
func (d *Decoder) Recycle() { d.recycle() }

// Release returns the decoder's buffers to their pools; call it when the
// connection closes. The decoder must not be used afterwards.
func (d *Decoder) Release() {
	d.recycle()
	if d.asm != nil {
		bytebufferpool.Put(d.asm)
		d.asm = nil
	}
}
