package socketio

import (
	"testing"

	"github.com/c1mhq/c1m/session"
)

// BenchmarkParse parses an event with an ack id and a small JSON payload,
// the common packet from a client.
func BenchmarkParse(b *testing.B) {
	msg := []byte(`2/chat,42["say",{"room":"news","text":"hello there"},3]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Parse(msg, DefaultMaxAttachments); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePublication encodes a room publication as an event, with
// and without recovery's offset: once per publication, whatever the
// number of subscribers.
func BenchmarkEncodePublication(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  *Config
		data string
	}{
		{"text", nil, "hello from the backend, a short line"},
		{"json", nil, `{"price":42.5,"symbol":"ABC","ts":1700000000}`},
		{"event", nil, `["tick",{"price":42.5,"symbol":"ABC"}]`},
		{"text+offset", &Config{Recovery: &RecoveryConfig{}}, "hello from the backend, a short line"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := New(tc.cfg)
			p := session.NewPublication("news", 12345, []byte(tc.data))
			p.Epoch = "k3v9q0ab"
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = srv.EncodePublication(dst[:0], p)
			}
		})
	}
}
