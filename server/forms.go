package server

import (
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Wire forms of a publication on WebSocket: the published bytes or the JSON
// envelope (chosen by subprotocol), each plain, permessage-deflate
// compressed, or compressed with Huffman codes only (for clients that limit
// the server's window: codec.Handshake.HuffmanOnly). A publication is
// encoded at most once per form.
const (
	formRaw = iota
	formRawDeflate
	formRawHuffman
	formEnvelope
	formEnvelopeDeflate
	formEnvelopeHuffman
	wsForms                 // the forms above are WebSocket's
	formJSON = wsForms      // the bare envelope, shared by the HTTP transports (poller)
	formSSE  = formJSON + 1 // the envelope as an SSE data line, shared by SSE streams
	// Engine.IO's message packet (EngineConfig.Publication): as an outbox
	// record (codec.AppendEIORecord), which every Engine.IO session copies,
	// and as a WebSocket frame, queued by reference on the WebSocket of a
	// session that runs on its own loop.
	formEIORecord = formSSE + 1
	formEIOFrame  = formSSE + 2
	numForms      = formEIOFrame + 1
)

// The compression of a form: its offset from formRaw or formEnvelope.
const (
	compressNone = iota
	compressDeflate
	compressHuffman
	numCompressions
)

var _ = [session.NumForms - numForms]struct{}{} // session has room for our forms

// huffmanDeflater compresses for the clients that limit the server's
// window. Shared by every server: it is a pool of compressors, taken only
// while a message is compressed.
var huffmanDeflater = codec.NewDeflater(codec.HuffmanOnly)

// formOf returns the form for a handshake's outcome.
func formOf(hs codec.Handshake) uint8 {
	f := uint8(formRaw)
	if hs.Protocol == codec.EnvelopeProtocol {
		f = formEnvelope
	}
	switch {
	case hs.Deflate && hs.HuffmanOnly:
		f += compressHuffman
	case hs.Deflate:
		f += compressDeflate
	}
	return f
}

// deflaterOf returns the compressor of the connection's messages: the
// server's, or the Huffman-only one for a client that limits the server's
// window.
func (c *conn) deflaterOf() *codec.Deflater {
	if c.form%numCompressions == compressHuffman {
		return huffmanDeflater
	}
	return c.sh.deflater
}

// newEncoders returns the encoder of each form.
func newEncoders(deflater *codec.Deflater, minSize int) [numForms]func(*session.Publication) []byte {
	op := func(p *session.Publication) codec.OpCode {
		if p.Text {
			return codec.OpText
		}
		return codec.OpBinary
	}
	frame := func(op codec.OpCode, payload []byte, compress int) []byte {
		if compress != compressNone && deflater != nil && len(payload) >= minSize {
			d := deflater
			if compress == compressHuffman {
				d = huffmanDeflater
			}
			return d.AppendCompressedFrame(nil, op, payload)
		}
		return codec.AppendFrame(make([]byte, 0, codec.HeaderSize(len(payload))+len(payload)), op, payload)
	}
	envelope := func(p *session.Publication) []byte {
		return codec.AppendEnvelope(nil, p.Topic, p.Epoch, p.Offset, p.Data)
	}
	var enc [numForms]func(*session.Publication) []byte
	for c := range numCompressions {
		enc[formRaw+c] = func(p *session.Publication) []byte { return frame(op(p), p.Data, c) }
		enc[formEnvelope+c] = func(p *session.Publication) []byte { return frame(codec.OpText, envelope(p), c) }
	}
	enc[formJSON] = envelope
	enc[formSSE] = func(p *session.Publication) []byte {
		env := envelope(p)
		return codec.AppendSSEData(make([]byte, 0, len(env)+len("data: \n")), env)
	}
	return enc
}
