package codec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/bytebufferpool"
)

var testLimits = Limits{MaxFrame: 1 << 10, MaxMessage: 4 << 10}

// mask is the fixed client mask of the fixtures.
var mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a masked client frame. b0 is the first header byte written
// out in full (FIN, RSV1-3, opcode), so fixtures read at the bit level.
func frame(b0 byte, payload []byte) []byte {
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = append(b, b0, 0b1000_0000|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, b0, 0b1000_0000|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, b0, 0b1000_0000|127), uint64(n))
	}
	b = append(b, mask[:]...)
	p := append([]byte(nil), payload...)
	Unmask(p, mask, 0)
	return append(b, p...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// result is what decoding a stream produced: the frames (as "op:payload")
// and the error that ended it, if any.
type result struct {
	frames []string
	err    error
}

func (r result) String() string { return fmt.Sprintf("%q err=%v", r.frames, r.err) }

// decodeAll feeds input to a fresh decoder in chunks of the given sizes
// (the rest in one piece), the way the server does: bytes accumulate in a
// buffer, complete frames are consumed from its front.
func decodeAll(t testing.TB, input []byte, inflate bool, chunks ...int) result {
	var d Decoder
	if inflate {
		d.Inflater = NewInflater(1 << 15)
	}
	defer d.Release()
	var buf []byte
	var r result
	feed := func(p []byte) bool {
		buf = append(buf, p...)
		for len(buf) > 0 {
			f, n, err := d.Decode(buf, &testLimits)
			if err != nil {
				r.err = err
				return false
			}
			if n == 0 {
				return true
			}
			if f.Op != 0 {
				r.frames = append(r.frames, fmt.Sprintf("%d:%s", f.Op, f.Payload))
			}
			buf = buf[n:]
		}
		return true
	}
	rest := input
	for _, c := range chunks {
		c = min(c, len(rest))
		if !feed(rest[:c]) {
			return r
		}
		rest = rest[c:]
	}
	feed(rest)
	return r
}

// everySplit checks that input decodes the same whole, split at every byte
// boundary, and one byte at a time.
func everySplit(t *testing.T, input []byte, inflate bool) result {
	t.Helper()
	whole := decodeAll(t, bytes.Clone(input), inflate)
	for i := 1; i < len(input); i++ {
		if got := decodeAll(t, bytes.Clone(input), inflate, i); got.String() != whole.String() {
			t.Fatalf("split at %d: %v, whole: %v", i, got, whole)
		}
	}
	ones := make([]int, len(input))
	for i := range ones {
		ones[i] = 1
	}
	if got := decodeAll(t, bytes.Clone(input), inflate, ones...); got.String() != whole.String() {
		t.Fatalf("byte by byte: %v, whole: %v", got, whole)
	}
	return whole
}

func deflate(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail)
}

func TestDecoder(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	cases := []struct {
		name    string
		input   []byte
		inflate bool
		frames  []string
		err     error
	}{
		{"text", frame(0b1000_0001, []byte("hello")), false, []string{"1:hello"}, nil},
		{"empty binary", frame(0b1000_0010, nil), false, []string{"2:"}, nil},
		{"16-bit length", frame(0b1000_0001, []byte(long)), false, []string{"1:" + long}, nil},
		{"fragmented text with ping inside", cat(
			frame(0b0000_0001, []byte("hel")),
			frame(0b1000_1001, []byte("p")),
			frame(0b1000_0000, []byte("lo"))), false, []string{"9:p", "1:hello"}, nil},
		{"three fragments", cat(
			frame(0b0000_0010, []byte("a")),
			frame(0b0000_0000, []byte("b")),
			frame(0b1000_0000, []byte("c"))), false, []string{"2:abc"}, nil},
		{"close with code", frame(0b1000_1000, []byte{0x03, 0xe8, 'o', 'k'}), false, []string{"8:\x03\xe8ok"}, nil},
		{"unmasked", []byte{0b1000_0001, 0b0000_0010, 'h', 'i'}, false, nil, ErrUnmaskedFrame},
		{"opcode 3", frame(0b1000_0011, nil), false, nil, ErrReservedOpCode},
		{"opcode 0xB", frame(0b1000_1011, nil), false, nil, ErrReservedOpCode},
		{"RSV1 without deflate", frame(0b1100_0001, []byte("x")), false, nil, ErrReservedBits},
		{"RSV2", frame(0b1010_0001, []byte("x")), true, nil, ErrReservedBits},
		{"RSV3", frame(0b1001_0001, []byte("x")), true, nil, ErrReservedBits},
		{"fragmented ping", frame(0b0000_1001, nil), false, nil, ErrFragmentedControl},
		{"ping of 126 bytes", frame(0b1000_1001, make([]byte, 126)), false, nil, ErrControlTooLong},
		{"continuation first", frame(0b1000_0000, []byte("x")), false, nil, ErrUnexpectedContinue},
		{"text inside text", cat(frame(0b0000_0001, []byte("a")), frame(0b1000_0001, []byte("b"))), false, nil, ErrExpectedContinue},
		{"frame over the limit", frame(0b1000_0010, make([]byte, 1025))[:8], false, nil, ErrFrameTooBig},
		{"message over the limit", cat(
			frame(0b0000_0010, make([]byte, 1024)), frame(0b0000_0000, make([]byte, 1024)),
			frame(0b0000_0000, make([]byte, 1024)), frame(0b0000_0000, make([]byte, 1024)),
			frame(0b1000_0000, []byte("x"))[:6]), false, nil, ErrMessageTooBig},
		{"invalid UTF-8", frame(0b1000_0001, []byte("a\xffb")), false, nil, ErrInvalidUTF8},
		{"UTF-8 split across fragments", cat(
			frame(0b0000_0001, []byte("\xce")), frame(0b1000_0000, []byte("\xba"))), false, []string{"1:κ"}, nil},
		{"incomplete rune at the end", frame(0b1000_0001, []byte("a\xce")), false, nil, ErrInvalidUTF8},
		{"fail fast on a partial frame", frame(0b1000_0001, []byte("ok\xed\xa0\x80 and much more to come"))[:11], false, nil, ErrInvalidUTF8},
		{"close of one byte", frame(0b1000_1000, []byte{0x03}), false, nil, ErrBadClosePayload},
		{"close code 1005", frame(0b1000_1000, []byte{0x03, 0xed}), false, nil, ErrBadCloseCode},
		{"close reason not UTF-8", frame(0b1000_1000, []byte{0x03, 0xe8, 0xff}), false, nil, ErrInvalidCloseUTF8},
		{"compressed text", frame(0b1100_0001, deflate(t, []byte("hello hello hello"))), true, []string{"1:hello hello hello"}, nil},
		{"compressed fragments", cat(
			frame(0b0100_0010, deflate(t, []byte("abcabcabc"))[:3]),
			frame(0b1000_0000, deflate(t, []byte("abcabcabc"))[3:])), true, []string{"2:abcabcabc"}, nil},
		{"compression bomb", frame(0b1100_0010, deflate(t, make([]byte, 64<<10))), true, nil, ErrCompressedTooBig},
		{"RSV1 on a continuation", cat(frame(0b0000_0010, []byte("a")), frame(0b1100_0000, []byte("b"))), true, nil, ErrCompressedContinued},
		{"compressed ping", frame(0b1100_1001, nil), true, nil, ErrCompressedControl},
		{"compressed invalid UTF-8", frame(0b1100_0001, deflate(t, []byte("\xff"))), true, nil, ErrInvalidUTF8},
		{"64-bit length with the top bit", []byte{0b1000_0010, 0b1111_1111, 0x80, 0, 0, 0, 0, 0, 0, 0}, false, nil, ErrBadLength},
		// RFC 6455 5.2: "the minimal number of bytes MUST be used to encode
		// the length". Masked binary frames, mask 37 fa 21 3d, payload to follow.
		{"16-bit length of 0", []byte{0b1000_0010, 0b1111_1110, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d}, false, nil, ErrBadLength},
		{"16-bit length of 125", cat([]byte{0b1000_0010, 0b1111_1110, 0x00, 0x7d, 0x37, 0xfa, 0x21, 0x3d}, make([]byte, 125)), false, nil, ErrBadLength},
		{"16-bit length of 126", frame(0b1000_0010, make([]byte, 126))[:8], false, nil, nil},
		{"64-bit length of 5", cat([]byte{0b1000_0001, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x37, 0xfa, 0x21, 0x3d}, frame(0b1000_0001, []byte("hello"))[6:]), false, nil, ErrBadLength},
		{"64-bit length of 65535", []byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x37, 0xfa, 0x21, 0x3d}, false, nil, ErrBadLength},
		{"64-bit length of 65536 is minimal", []byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d}, false, nil, ErrFrameTooBig},
		{"non-minimal close", cat([]byte{0b1000_1000, 0b1111_1110, 0x00, 0x02, 0x37, 0xfa, 0x21, 0x3d}, frame(0b1000_1000, []byte{0x03, 0xe8})[6:]), false, nil, ErrBadLength},
		{"non-minimal continuation after a good fragment", cat(
			frame(0b0000_0001, []byte("he")),
			[]byte{0b1000_0000, 0b1111_1110, 0x00, 0x03, 0x37, 0xfa, 0x21, 0x3d}, frame(0b1000_0000, []byte("llo"))[6:]), false, nil, ErrBadLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := everySplit(t, tc.input, tc.inflate)
			if !errors.Is(got.err, tc.err) || fmt.Sprint(got.frames) != fmt.Sprint(tc.frames) {
				t.Fatalf("got %v, want %q err=%v", got, tc.frames, tc.err)
			}
			var pe *ProtocolError
			if tc.err != nil && !errors.As(got.err, &pe) {
				t.Fatalf("%v is not a *ProtocolError with a close code", got.err)
			}
		})
	}
}

// TestDecodeHeaderLength: the length field at the 7/16/64-bit boundaries,
// read at the bit level. Each input is also fed as every shorter prefix,
// which must ask for more bytes unless the length field is already complete
// and bad (then the error comes before the mask has arrived).
func TestDecodeHeaderLength(t *testing.T) {
	t.Parallel()
	m := []byte{0x37, 0xfa, 0x21, 0x3d}
	cases := []struct {
		name   string
		in     []byte
		length int64
		err    error
		errAt  int // shortest prefix that already fails
	}{
		{"7-bit 125", cat([]byte{0b1000_0010, 0b1111_1101}, m), 125, nil, 0},
		{"16-bit 0", cat([]byte{0b1000_0010, 0b1111_1110, 0x00, 0x00}, m), 0, ErrBadLength, 4},
		{"16-bit 125", cat([]byte{0b1000_0010, 0b1111_1110, 0x00, 0x7d}, m), 0, ErrBadLength, 4},
		{"16-bit 126", cat([]byte{0b1000_0010, 0b1111_1110, 0x00, 0x7e}, m), 126, nil, 0},
		{"16-bit 65535", cat([]byte{0b1000_0010, 0b1111_1110, 0xff, 0xff}, m), 65535, nil, 0},
		{"64-bit 0", cat([]byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0, 0}, m), 0, ErrBadLength, 10},
		{"64-bit 125", cat([]byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0, 0x7d}, m), 0, ErrBadLength, 10},
		{"64-bit 126", cat([]byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0, 0x7e}, m), 0, ErrBadLength, 10},
		{"64-bit 65535", cat([]byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, m), 0, ErrBadLength, 10},
		{"64-bit 65536", cat([]byte{0b1000_0010, 0b1111_1111, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, m), 65536, nil, 0},
		{"64-bit 2^63-1", cat([]byte{0b1000_0010, 0b1111_1111, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, m), 1<<63 - 1, nil, 0},
		{"64-bit 2^63", cat([]byte{0b1000_0010, 0b1111_1111, 0x80, 0, 0, 0, 0, 0, 0, 0}, m), 0, ErrBadLength, 10},
		{"unmasked 16-bit 125", []byte{0b1000_0010, 0b0111_1110, 0x00, 0x7d}, 0, ErrBadLength, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, n, err := DecodeHeader(tc.in)
			if err != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && (n != len(tc.in) || h.Length != tc.length) {
				t.Fatalf("size %d length %d, want %d %d", n, h.Length, len(tc.in), tc.length)
			}
			for i := range len(tc.in) {
				_, n, err := DecodeHeader(tc.in[:i])
				switch {
				case tc.err != nil && i >= tc.errAt:
					if err != tc.err {
						t.Fatalf("prefix of %d: %v, want %v", i, err, tc.err)
					}
				case n != 0 || err != nil:
					t.Fatalf("prefix of %d: size %d, %v; want need more", i, n, err)
				}
			}
			if err != nil && tc.err.(*ProtocolError).Code != StatusProtocolError {
				t.Fatalf("close code %d", tc.err.(*ProtocolError).Code)
			}
		})
	}
}

// TestDecoderCloseCodes: the close code each violation asks for.
func TestDecoderCloseCodes(t *testing.T) {
	t.Parallel()
	for err, code := range map[*ProtocolError]StatusCode{
		ErrUnmaskedFrame: 1002, ErrReservedOpCode: 1002, ErrReservedBits: 1002, ErrFragmentedControl: 1002,
		ErrControlTooLong: 1002, ErrUnexpectedContinue: 1002, ErrExpectedContinue: 1002,
		ErrInvalidUTF8: 1007, ErrInvalidCloseUTF8: 1007, ErrFrameTooBig: 1009, ErrMessageTooBig: 1009,
		ErrCompressedTooBig: 1009, ErrBadCloseCode: 1002, ErrBadLength: 1002,
	} {
		if err.Code != code {
			t.Errorf("%v: code %d, want %d", err, err.Code, code)
		}
	}
}

// TestInflaterContextTakeover: a client that keeps its compression context
// across messages (as browsers do) is decoded with the dictionary window.
func TestInflaterContextTakeover(t *testing.T) {
	t.Parallel()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	msgs := []string{"the quick brown fox", "the quick brown fox jumps", "over the lazy dog, the quick brown fox"}
	inf := NewInflater(1 << 15)
	out := bytebufferpool.Get()
	defer bytebufferpool.Put(out)
	for i, m := range msgs {
		comp.Reset()
		fw.Write([]byte(m))
		fw.Flush()
		payload := bytes.TrimSuffix(comp.Bytes(), deflateTail)
		got, err := inf.Inflate(out, payload, 1<<20)
		if err != nil || string(got) != m {
			t.Fatalf("message %d: %q %v, want %q", i, got, err, m)
		}
	}
}

// TestDeflaterRoundTrip: what the server compresses, compress/flate reads
// back once the tail is restored; an empty message is a single 0x00 byte.
func TestDeflaterRoundTrip(t *testing.T) {
	t.Parallel()
	d := NewDeflater(flate.BestSpeed)
	for _, p := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("payload "), 1000)} {
		c := d.AppendCompressed(nil, p)
		if len(p) == 0 && !bytes.Equal(c, []byte{0x00}) {
			t.Fatalf("empty message compresses to % x", c)
		}
		r := flate.NewReader(bytes.NewReader(append(c, deflateTail...)))
		got := make([]byte, len(p)+16)
		n, _ := r.Read(got)
		for n < len(p) {
			m, err := r.Read(got[n:])
			if m == 0 && err != nil {
				break
			}
			n += m
		}
		if !bytes.Equal(got[:n], p) {
			t.Fatalf("round trip of %d bytes gave %d", len(p), n)
		}
	}
}
