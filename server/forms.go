package server

import (
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Wire forms of a publication on WebSocket: the published bytes or the JSON
// envelope (chosen by subprotocol), each plain or permessage-deflate
// compressed. A publication is encoded at most once per form.
const (
	formRaw = iota
	formRawDeflate
	formEnvelope
	formEnvelopeDeflate
	wsForms            // the forms above are WebSocket's
	formJSON = wsForms // the bare envelope, shared by every HTTP transport (poller)
	numForms = formJSON + 1
)

var _ = [session.NumForms - numForms]struct{}{} // session has room for our forms

// formOf returns the form for a handshake's outcome.
func formOf(hs codec.Handshake) uint8 {
	f := uint8(formRaw)
	if hs.Protocol == codec.EnvelopeProtocol {
		f = formEnvelope
	}
	if hs.Deflate {
		f++
	}
	return f
}

// newEncoders returns the encoder of each form.
func newEncoders(deflater *codec.Deflater, minSize int) [numForms]func(*session.Publication) []byte {
	op := func(p *session.Publication) codec.OpCode {
		if p.Text {
			return codec.OpText
		}
		return codec.OpBinary
	}
	frame := func(op codec.OpCode, payload []byte, deflate bool) []byte {
		if deflate && deflater != nil && len(payload) >= minSize {
			return deflater.AppendCompressedFrame(nil, op, payload)
		}
		return codec.AppendFrame(make([]byte, 0, codec.HeaderSize(len(payload))+len(payload)), op, payload)
	}
	envelope := func(p *session.Publication) []byte {
		return codec.AppendEnvelope(nil, p.Topic, p.Epoch, p.Offset, p.Data)
	}
	return [numForms]func(*session.Publication) []byte{
		formRaw:             func(p *session.Publication) []byte { return frame(op(p), p.Data, false) },
		formRawDeflate:      func(p *session.Publication) []byte { return frame(op(p), p.Data, true) },
		formEnvelope:        func(p *session.Publication) []byte { return frame(codec.OpText, envelope(p), false) },
		formEnvelopeDeflate: func(p *session.Publication) []byte { return frame(codec.OpText, envelope(p), true) },
		formJSON:            envelope,
	}
}
