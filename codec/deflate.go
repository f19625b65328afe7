package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
	"github.com/valyala/bytebufferpool"
)

// permessage-deflate (RFC 7692).
//
// The server always answers server_no_context_takeover: every message it
// sends is compressed on its own, so one compressed frame can be written to
// every subscriber that negotiated the extension, and no compressor state is
// kept per connection. compress/flate always looks 32 KiB back; a client
// that limits the server's window (server_max_window_bits below 15) is
// granted its window and sent Huffman-only blocks (HuffmanOnly), which
// refer to nothing before them and so fit any window. The client may keep its context (browsers do); then
// the server keeps the last 2^w bytes of that client's uncompressed messages
// as the dictionary for the next one, where w is the window the response
// grants: DeflateConfig.ClientWindowBits, or less if the client offers less.
// A client that cannot be granted a window (it offers no
// client_max_window_bits, so it may use 15 bits) is answered
// client_no_context_takeover, which RFC 7692 section 7.1.1.2 lets a server
// add, unless ClientWindowBits is 15. So 2^ClientWindowBits bounds what
// compression keeps for a connection between messages; a client without
// context takeover (or DeflateConfig.ClientNoContext) costs nothing. The
// inflater itself is pooled and taken only while a message is inflated.
//
// Measured (TestDeflateMemoryPerConnection in server, 1,000 idle
// connections, each after one message): about 1 KB of heap a connection
// without compression, the client's socket included; with the default 12
// bits about 4.2 KB more (the 4 KiB dictionary); with 15 bits about 33 KB
// more; without client context takeover nothing more. tuning.md has the
// table.

// deflateTail is the empty stored block a sender strips from the end of each
// compressed message (RFC 7692 section 7.2.1) and the receiver appends back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// Window sizes in bits (RFC 7692 section 7.1.2).
const (
	minWindowBits = 9 // zlib cannot produce raw deflate with an 8-bit window
	maxWindowBits = 15
)

// DeflateConfig enables permessage-deflate. Its zero value works.
type DeflateConfig struct {
	// ClientWindowBits caps the LZ77 window a client may use, and so the
	// dictionary the server keeps for each connection between messages:
	// 2^bits bytes. A client that offers no client_max_window_bits is told
	// client_no_context_takeover unless this is 15. Zero means 12 (4 KiB);
	// values are clamped to 9..15.
	ClientWindowBits int
	// ClientNoContext answers client_no_context_takeover to every client,
	// so that no connection keeps a dictionary: what clients send
	// compresses less, each message on its own. Zero keeps client context
	// up to ClientWindowBits.
	ClientNoContext bool
	// Level is the compress/flate level for outgoing messages. Zero means
	// flate.BestSpeed: on a push server, CPU per byte matters more than the
	// last percent of ratio.
	Level int
	// MinSize is the smallest payload worth compressing; smaller messages go
	// out uncompressed (RSV1 clear), which RFC 7692 allows per message. Zero
	// means 64 bytes; negative compresses everything.
	MinSize int
}

const (
	defaultClientWindowBits = 12
	defaultDeflateMinSize   = 64
)

// The range of DeflateConfig.ClientWindowBits, and its default.
const (
	MinClientWindowBits     = minWindowBits
	MaxClientWindowBits     = maxWindowBits
	DefaultClientWindowBits = defaultClientWindowBits
)

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c DeflateConfig) WithDefaults() DeflateConfig {
	if c.ClientWindowBits == 0 {
		c.ClientWindowBits = defaultClientWindowBits
	}
	c.ClientWindowBits = min(max(c.ClientWindowBits, minWindowBits), maxWindowBits)
	if c.Level == 0 {
		c.Level = flate.BestSpeed
	}
	if c.MinSize == 0 {
		c.MinSize = defaultDeflateMinSize
	}
	return c
}

// deflateNegotiator picks the first acceptable permessage-deflate offer.
// It is reset before each handshake and belongs to one Handshaker.
type deflateNegotiator struct {
	cfg      DeflateConfig
	accepted bool
	window   int  // client context window in bytes; 0: client_no_context_takeover
	huffman  bool // the client limited the server's window below 15 bits
}

func (n *deflateNegotiator) reset() { n.accepted, n.window, n.huffman = false, 0, false }

// negotiate implements ws.Upgrader.Negotiate. An offer it cannot honour is
// declined (a zero option), never an error: RFC 7692 lets the client send
// several offers and the server pick one or none.
func (n *deflateNegotiator) negotiate(opt httphead.Option) (httphead.Option, error) {
	if n.accepted || !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	var offer wsflate.Parameters
	if offer.Parse(opt) != nil {
		return httphead.Option{}, nil
	}
	resp := wsflate.Parameters{ServerNoContextTakeover: true}
	if offer.ServerMaxWindowBits.Defined() {
		// Accepted by granting the window offered (RFC 7692 7.1.2.1).
		// compress/flate always looks 32 KiB back, so a smaller window is
		// served with Huffman-only blocks (HuffmanOnly), which refer to
		// nothing before them and so fit any window.
		resp.ServerMaxWindowBits = offer.ServerMaxWindowBits
		n.huffman = offer.ServerMaxWindowBits < maxWindowBits
	}
	switch {
	case offer.ClientNoContextTakeover, n.cfg.ClientNoContext:
		resp.ClientNoContextTakeover = true
	case offer.ClientMaxWindowBits.Defined():
		// RFC 7692 7.1.2.2: the answer is at most the value offered, which
		// may be 8, below what the server would pick (a client that offers
		// 8 compresses with a 256-byte window; inflating needs no minimum).
		bits := n.cfg.ClientWindowBits
		if offer.ClientMaxWindowBits > 1 { // 1 means "offered without a value"
			bits = min(bits, int(offer.ClientMaxWindowBits))
		}
		resp.ClientMaxWindowBits = wsflate.WindowBits(bits)
		n.window = 1 << bits
	case n.cfg.ClientWindowBits == maxWindowBits:
		n.window = 1 << maxWindowBits
	default:
		// The client may use a 32 KiB window, more than the server keeps.
		resp.ClientNoContextTakeover = true
	}
	n.accepted = true
	return resp.Option(), nil
}

// Inflater decompresses the messages of one connection. With client context
// takeover it keeps the tail of the previous messages as a dictionary.
// Loop-only: it belongs to its connection's decoder.
type Inflater struct {
	window int    // bytes of history to keep; 0 for no context takeover
	dict   []byte // the last window bytes of uncompressed output
}

// NewInflater returns an inflater for a connection whose handshake granted
// window bytes of client context (0: none). Without context it holds no
// state, and every such connection shares one.
func NewInflater(window int) *Inflater {
	if window == 0 {
		return noContext
	}
	return &Inflater{window: window}
}

// noContext is the inflater of every connection without client context: it
// only reads its fields, so it can be shared by every loop.
var noContext = &Inflater{}

type inflateState struct {
	fr  io.ReadCloser
	src tailReader
}

// tailReader reads p and then deflateTail, without allocating.
type tailReader struct {
	p    []byte
	tail int
}

func (r *tailReader) Read(b []byte) (int, error) {
	if len(r.p) > 0 {
		n := copy(b, r.p)
		r.p = r.p[n:]
		return n, nil
	}
	if r.tail < len(deflateTail) {
		n := copy(b, deflateTail[r.tail:])
		r.tail += n
		return n, nil
	}
	return 0, io.EOF
}

var inflatePool = sync.Pool{New: func() any {
	st := &inflateState{}
	st.fr = flate.NewReader(&st.src)
	return st
}}

// Inflate decompresses one message into dst (reset first) and returns the
// result. It fails with ErrCompressedTooBig as soon as the output passes
// limit, so a compression bomb costs at most limit bytes.
func (f *Inflater) Inflate(dst *bytebufferpool.ByteBuffer, compressed []byte, limit int64) ([]byte, error) {
	st := inflatePool.Get().(*inflateState)
	defer inflatePool.Put(st)
	st.src = tailReader{p: compressed}
	if err := st.fr.(flate.Resetter).Reset(&st.src, f.dict); err != nil {
		return nil, ErrBadCompressedData
	}
	dst.Reset()
	// The output doubles, up to one byte past the limit (which is how a
	// message over it shows). append's growth of 1.25x for large slices
	// allocated about 5 times the output in total, 100 MiB for a bomb
	// against a 16 MiB limit; doubling allocates about 2 times, at the
	// cost of up to 2x unused capacity in a buffer that goes back to the
	// pool.
	const chunk = 4096
	hardCap := max(limit, 0) // a negative limit must not leave no room to read
	if hardCap < math.MaxInt64 {
		hardCap++
	}
	for {
		if cap(dst.B)-len(dst.B) < chunk && int64(cap(dst.B)) < hardCap {
			next := int64(max(2*cap(dst.B), chunk))
			if next >= limit {
				next = hardCap
			}
			grown := make([]byte, len(dst.B), next)
			copy(grown, dst.B)
			dst.B = grown
		}
		n, err := st.fr.Read(dst.B[len(dst.B):cap(dst.B)])
		dst.B = dst.B[:len(dst.B)+n]
		if int64(len(dst.B)) > limit {
			return nil, ErrCompressedTooBig
		}
		if err == nil {
			continue
		}
		// The stream of a message is not final (no BFINAL block), so the
		// end of input shows up as ErrUnexpectedEOF; a final block gives EOF.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		return nil, ErrBadCompressedData
	}
	f.remember(dst.B)
	return dst.B, nil
}

// remember keeps the last window bytes of out (after the current dictionary)
// for the next message.
func (f *Inflater) remember(out []byte) {
	if f.window == 0 {
		return
	}
	if f.dict == nil {
		// The dictionary never holds more than window bytes: allocated
		// once at that size, it never grows.
		f.dict = make([]byte, 0, f.window)
	}
	if len(out) >= f.window {
		f.dict = append(f.dict[:0], out[len(out)-f.window:]...)
		return
	}
	if keep := f.window - len(out); len(f.dict) > keep {
		f.dict = append(f.dict[:0], f.dict[len(f.dict)-keep:]...)
	}
	f.dict = append(f.dict, out...)
}

// HuffmanOnly is the compress/flate level for clients that limit the
// server's window (Handshake.HuffmanOnly): Huffman codes without LZ77
// matches. It compresses less at the same CPU: 1.6:1 on 2 KiB of JSON
// price ticks, where BestSpeed gets 4.6:1, both at about 130 MB/s
// (BenchmarkDeflate).
const HuffmanOnly = flate.HuffmanOnly

// Deflater compresses outgoing messages without context takeover. Safe for
// concurrent use: compressors come from a pool per level.
type Deflater struct {
	level int
	pool  sync.Pool
}

// NewDeflater returns a Deflater at a compress/flate level.
func NewDeflater(level int) *Deflater {
	d := &Deflater{level: level}
	d.pool.New = func() any {
		w, err := flate.NewWriter(nil, level)
		if err != nil {
			panic(err) // the level was validated by WithDefaults' caller
		}
		return w
	}
	return d
}

// appendWriter appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// AppendCompressed appends the permessage-deflate encoding of payload (the
// compressed bytes without the trailing 00 00 ff ff) to dst.
func (d *Deflater) AppendCompressed(dst, payload []byte) []byte {
	fw := d.pool.Get().(*flate.Writer)
	defer d.pool.Put(fw)
	w := appendWriter{b: dst}
	fw.Reset(&w)
	_, _ = fw.Write(payload) // writes to memory cannot fail
	_ = fw.Flush()
	return w.b[:len(w.b)-len(deflateTail)]
}

// AppendCompressedFrame appends a complete single-frame message with a
// compressed payload (RSV1 set) to dst.
func (d *Deflater) AppendCompressedFrame(dst []byte, op OpCode, payload []byte) []byte {
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	buf.B = d.AppendCompressed(buf.B[:0], payload)
	dst = AppendCompressedHeader(dst, op, len(buf.B))
	return append(dst, buf.B...)
}
