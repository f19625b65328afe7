package codec

import (
	"bytes"
	"compress/flate"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
)

var benchSizes = []int{8, 128, 1 << 10, 16 << 10, 64 << 10}

// BenchmarkDecode decodes one masked text frame of each size (unmasking and
// UTF-8 validation included).
func BenchmarkDecode(b *testing.B) {
	lim := Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			src := frame(0b1000_0001, bytes.Repeat([]byte("a"), n))
			buf := make([]byte, len(src))
			var d Decoder
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				copy(buf, src)
				if _, m, err := d.Decode(buf, &lim); m != len(buf) || err != nil {
					b.Fatal(m, err)
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			p := make([]byte, n)
			dst := make([]byte, 0, n+MaxHeaderSize)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				dst = AppendFrame(dst[:0], OpBinary, p)
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	p := bytes.Repeat([]byte("héllo wörld "), 1000)
	b.Run("Feed", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for i := 0; i < b.N; i++ {
			UTF8State(0).Feed(p)
		}
	})
	b.Run("utf8.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for i := 0; i < b.N; i++ {
			utf8.Valid(p)
		}
	})
}

func BenchmarkHandshake(b *testing.B) {
	h := NewHandshaker(HandshakeConfig{Deflate: &DeflateConfig{}})
	head := []byte(upgradeHead("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
	var out bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out.Reset()
		if _, err := h.Upgrade(head, &out, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeflate compresses 2 KiB of JSON price ticks at BestSpeed (the
// default) and HuffmanOnly (for clients that limit the server's window),
// and reports the compression ratio.
func BenchmarkDeflate(b *testing.B) {
	var p []byte
	for i := 0; len(p) < 2<<10; i++ {
		p = fmt.Appendf(p, `{"symbol":"%c%c%c","price":%d.%02d,"size":%d} `, 'A'+i%26, 'A'+i*7%26, 'A'+i*3%26, 100+i%13, i*37%100, 100*(1+i%9))
	}
	for _, level := range []struct {
		name  string
		level int
	}{{"best-speed", flate.BestSpeed}, {"huffman-only", HuffmanOnly}} {
		b.Run(level.name, func(b *testing.B) {
			d := NewDeflater(level.level)
			var dst []byte
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				dst = d.AppendCompressedFrame(dst[:0], OpText, p)
			}
			b.ReportMetric(float64(len(p))/float64(len(dst)), "ratio")
		})
	}
}

// BenchmarkInflate inflates one message into a fresh buffer (a cold pool),
// so B/op is what growing the output costs, under the default 4 MiB
// message limit; "bomb" inflates 64 MiB of zeros against a 16 MiB limit.
func BenchmarkInflate(b *testing.B) {
	for _, n := range []int{128, 16 << 10, 1 << 20, 64 << 20} {
		name, limit := fmt.Sprintf("size=%d", n), int64(4<<20)
		if n == 64<<20 {
			name, limit = "bomb", 16<<20
		}
		b.Run(name, func(b *testing.B) {
			unit := []byte(`{"price":101.5,"symbol":"ABC"} `)
			p := bytes.Repeat(unit, n/len(unit)+1)[:n]
			if n == 64<<20 {
				p = make([]byte, n)
			}
			compressed := NewDeflater(flate.BestSpeed).AppendCompressed(nil, p)
			inf := NewInflater(0)
			b.SetBytes(min(int64(n), limit))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = inf.Inflate(&bytebufferpool.ByteBuffer{}, compressed, limit)
			}
		})
	}
}
