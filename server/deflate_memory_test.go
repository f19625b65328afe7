package server_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// counter counts messages, closing done at want.
type counter struct {
	server.BuiltinHandler
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) OnMessage(*server.Session, server.Message) {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
}

// compressMessage returns the permessage-deflate payload of msg from a
// fresh compressor, so that it refers to nothing before it: it fits any
// window at least as large as msg.
func compressMessage(t testing.TB, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = fw.Write(msg)
	_ = fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// sampleText is msgLen bytes of a push message's kind of text.
func sampleText(msgLen int) []byte {
	var b []byte
	for i := 0; len(b) < msgLen; i++ {
		b = fmt.Appendf(b, `{"op":"publish","topic":"prices","data":{"id":%d,"bid":%d.%02d}}`, i, 100+i%7, i%100)
	}
	return b[:msgLen]
}

// TestDeflateMemoryPerConnection measures the heap each connection holds
// once it is idle again after one message, with and without
// permessage-deflate, and checks that compression keeps at most the
// dictionary its configuration allows (2^ClientWindowBits bytes) on top
// of a plain connection. The figures are logged (go test -v); tuning.md
// quotes them.
//
// Not parallel: it reads the heap, which other tests would disturb.
func TestDeflateMemoryPerConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	const conns = 1000
	// slack is what a connection may hold beyond its dictionary: the heap
	// also moves with the runtime's own bookkeeping, by up to about 200
	// bytes per connection at this count.
	const slack = 512
	cases := []struct {
		name     string
		deflate  *codec.DeflateConfig
		offer    string
		msgLen   int
		maxExtra int // over a plain connection
	}{
		{"plain", nil, "", 4 << 10, 0},
		{"deflate, browser offer, default window (12 bits)", &codec.DeflateConfig{}, "permessage-deflate; client_max_window_bits", 4 << 10, 4 << 10},
		{"deflate, bare offer, default window", &codec.DeflateConfig{}, "permessage-deflate", 32 << 10, 0},
		{"deflate, client_no_context_takeover", &codec.DeflateConfig{}, "permessage-deflate; client_no_context_takeover", 4 << 10, 0},
		{"deflate, browser offer, ClientNoContext", &codec.DeflateConfig{ClientNoContext: true}, "permessage-deflate; client_max_window_bits", 4 << 10, 0},
		{"deflate, bare offer, ClientWindowBits 15", &codec.DeflateConfig{ClientWindowBits: 15}, "permessage-deflate", 32 << 10, 32 << 10},
	}
	// A first run takes the process's one-time allocations, which would
	// otherwise count against the first case.
	t.Run("warm-up", func(t *testing.T) { deflateHeapPerConn(t, conns, nil, "", cases[0].msgLen) })
	var plain float64
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perConn := deflateHeapPerConn(t, conns, tc.deflate, tc.offer, tc.msgLen)
			if tc.deflate == nil {
				plain = perConn
			}
			extra := perConn - plain
			t.Logf("%6.0f B per idle connection, %+6.0f over plain (clients' sockets included)", perConn, extra)
			if extra > float64(tc.maxExtra+slack) {
				t.Errorf("%.0f bytes a connection over plain, want at most %d", extra, tc.maxExtra)
			}
		})
	}
}

// deflateHeapPerConn opens conns connections with offer, sends one message
// of msgLen bytes on each (compressed when accepted), waits until the
// server has handled them all and returns the heap per connection.
func deflateHeapPerConn(t *testing.T, conns int, deflate *codec.DeflateConfig, offer string, msgLen int) float64 {
	t.Helper()
	h := &counter{want: int64(conns), done: make(chan struct{})}
	srv := server.New(h, &server.Config{Addr: "127.0.0.1:0", Loops: 2, Compression: deflate,
		Timing: quietTiming, MaxMessage: 64 << 10})
	serve(t, srv)
	addr := srv.Addr().String()
	msg := sampleText(msgLen)
	plainFrame := wstest.Masked(true, 0, codec.OpText, msg)
	deflateFrame := wstest.Masked(true, 0b100, codec.OpText, compressMessage(t, msg))
	extra := ""
	if offer != "" {
		extra = "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}

	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var before, after runtime.MemStats
	// Twice: pools (sync.Pool) are emptied over two collections, so that
	// buffers an earlier case left in them do not hide this case's.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range conns {
		// A raw connection: the client keeps nothing but its socket.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if _, err := c.Write([]byte(wstest.Request("/ws", extra))); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, responseBuffer), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		frame := plainFrame
		if resp.Header.Get("Sec-WebSocket-Extensions") != "" {
			frame = deflateFrame
		}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-h.done:
	case <-time.After(wstest.Timeout): // a bound on a failure, not a wait
		t.Fatalf("%d of %d messages handled", h.n.Load(), conns)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(conns)
}

// responseBuffer holds a 101 answer: the server sends nothing after it, so
// the reader that parses it can be dropped.
const responseBuffer = 512
