package session

import (
	"fmt"
	"testing"

	"github.com/c1mhq/c1m/codec"
)

// frameTransport is a transport that encodes like the WebSocket one (one
// shared frame per publication, copied into a per-session buffer) and whose
// flush drops the bytes: the benchmark measures the shard's own cost per
// delivery, without the write(2) a real flush makes.
type frameTransport struct{ out []byte }

func (f *frameTransport) WriteMessage(op codec.OpCode, p []byte) error {
	f.out = codec.AppendFrame(f.out, op, p)
	return nil
}

func (f *frameTransport) WritePublication(p *Publication) error {
	f.out = append(f.out, p.Encoded(0, encodeFrame)...)
	return nil
}

func encodeFrame(p *Publication) []byte { return codec.AppendFrame(nil, codec.OpText, p.Data) }

func (f *frameTransport) Flush()                         { f.out = f.out[:0] }
func (f *frameTransport) Ping() bool                     { return true }
func (f *frameTransport) Subscribed(string, Start)       {}
func (f *frameTransport) Close(codec.StatusCode, string) {}
func (f *frameTransport) Abort()                         {}

// BenchmarkFanout delivers one publication of 64 bytes to N subscribers on
// one shard and flushes; ns/op divided by N is the cost per delivery.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 1000, 100_000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			sh := NewShard(0, "loop", nil, Config{})
			ss := make([]Session, n)
			for i := range ss {
				sh.Open(&ss[i], &frameTransport{})
				ss[i].MarkOpen()
				ss[i].Subscribe("t")
			}
			payload := make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sh.deliver(NewPublication("t", uint64(i), payload), 0)
				for len(sh.dirty) > 0 {
					sh.budget = flushSlice // a new pass of the loop
					sh.flushSlice()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}
