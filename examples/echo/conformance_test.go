package main

// RFC 6455 conformance at the level of the Autobahn|Testsuite server cases
// 1-7, 9, 10 and 12-13, against the echo server in-process. Malformed input
// goes through a raw client (internal/wstest); well-formed traffic also
// through two independent client libraries, gorilla/websocket and
// coder/websocket.

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
)

// echoAddr starts the echo server for the test and returns its address.
func echoAddr(t *testing.T) string {
	t.Helper()
	srv := newServer("127.0.0.1:0", 2)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

func masked(fin bool, rsv byte, op codec.OpCode, p []byte) []byte {
	return wstest.Masked(fin, rsv, op, p)
}

func text(s string) []byte { return masked(true, 0, codec.OpText, []byte(s)) }

// expectFrame reads one frame and compares it.
func expectFrame(t *testing.T, c *wstest.Conn, op codec.OpCode, payload []byte) {
	t.Helper()
	f := c.MustFrame()
	if f.Op != op || !f.Fin || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("got %v, want op %d with %d bytes", f, op, len(payload))
	}
}

// TestAutobahnRaw runs the cases whose input a library would refuse to send:
// each sends bytes and expects echoes and then, if code is set, a close
// frame with that code followed by the server closing the connection.
func TestAutobahnRaw(t *testing.T) {
	t.Parallel()
	addr := echoAddr(t)
	type echo struct {
		op codec.OpCode
		p  []byte
	}
	b125 := bytes.Repeat([]byte{0xfe}, 125)
	cases := []struct {
		name   string
		send   [][]byte // written one by one
		echoes []echo
		code   codec.StatusCode // 0: expect no close, the connection stays usable
	}{
		// 1.x framing: lengths around the 7/16/64-bit boundaries.
		{"1.1.1 text 0", [][]byte{text("")}, []echo{{codec.OpText, []byte{}}}, 0},
		{"1.1.2 text 125", [][]byte{text(strings.Repeat("*", 125))}, []echo{{codec.OpText, []byte(strings.Repeat("*", 125))}}, 0},
		{"1.1.3 text 126", [][]byte{text(strings.Repeat("*", 126))}, []echo{{codec.OpText, []byte(strings.Repeat("*", 126))}}, 0},
		{"1.1.5 text 128", [][]byte{text(strings.Repeat("*", 128))}, []echo{{codec.OpText, []byte(strings.Repeat("*", 128))}}, 0},
		{"1.1.6 text 65535", [][]byte{text(strings.Repeat("*", 65535))}, []echo{{codec.OpText, []byte(strings.Repeat("*", 65535))}}, 0},
		{"1.1.7 text 65536", [][]byte{text(strings.Repeat("*", 65536))}, []echo{{codec.OpText, []byte(strings.Repeat("*", 65536))}}, 0},
		{"1.2.8 binary 65536 in chunks of 997", chunks(masked(true, 0, codec.OpBinary, bytes.Repeat([]byte{0xfe}, 65536)), 997), []echo{{codec.OpBinary, bytes.Repeat([]byte{0xfe}, 65536)}}, 0},
		// 2.x pings.
		{"2.1 ping empty", [][]byte{masked(true, 0, codec.OpPing, nil)}, []echo{{codec.OpPong, []byte{}}}, 0},
		{"2.4 ping 125", [][]byte{masked(true, 0, codec.OpPing, b125)}, []echo{{codec.OpPong, b125}}, 0},
		{"2.5 ping 126", [][]byte{masked(true, 0, codec.OpPing, append(b125, 0))}, nil, codec.StatusProtocolError},
		{"2.6 ping 125 in chunks of 1", chunks(masked(true, 0, codec.OpPing, b125), 1), []echo{{codec.OpPong, b125}}, 0},
		{"2.7 unsolicited pong", [][]byte{masked(true, 0, codec.OpPong, nil), text("x")}, []echo{{codec.OpText, []byte("x")}}, 0},
		{"2.10 ten pings", repeat(masked(true, 0, codec.OpPing, []byte("p")), 10), repeatEcho(echo{codec.OpPong, []byte("p")}, 10), 0},
		// 3.x reserved bits.
		{"3.1 RSV1 text", [][]byte{masked(true, 0b100, codec.OpText, []byte("x"))}, nil, codec.StatusProtocolError},
		{"3.2 RSV2 after a good frame", [][]byte{text("ok"), masked(true, 0b010, codec.OpText, []byte("x"))}, []echo{{codec.OpText, []byte("ok")}}, codec.StatusProtocolError},
		{"3.6 RSV6 ping", [][]byte{masked(true, 0b110, codec.OpPing, nil)}, nil, codec.StatusProtocolError},
		{"3.7 RSV7 close", [][]byte{masked(true, 0b111, codec.OpClose, nil)}, nil, codec.StatusProtocolError},
		// 4.x opcodes.
		{"4.1.1 opcode 3", [][]byte{masked(true, 0, 3, nil)}, nil, codec.StatusProtocolError},
		{"4.1.5 opcode 7 after a good frame", [][]byte{text("ok"), masked(true, 0, 7, nil)}, []echo{{codec.OpText, []byte("ok")}}, codec.StatusProtocolError},
		{"4.2.1 opcode 11", [][]byte{masked(true, 0, 11, nil)}, nil, codec.StatusProtocolError},
		{"4.2.5 opcode 15 with payload", [][]byte{masked(true, 0, 15, []byte("hi"))}, nil, codec.StatusProtocolError},
		// 5.x fragmentation.
		{"5.1 fragmented ping", [][]byte{masked(false, 0, codec.OpPing, []byte("a")), masked(true, 0, codec.OpContinuation, []byte("b"))}, nil, codec.StatusProtocolError},
		{"5.3 text in two fragments", [][]byte{masked(false, 0, codec.OpText, []byte("frag")), masked(true, 0, codec.OpContinuation, []byte("ment"))}, []echo{{codec.OpText, []byte("fragment")}}, 0},
		{"5.6 ping between fragments", [][]byte{masked(false, 0, codec.OpText, []byte("a")), masked(true, 0, codec.OpPing, []byte("p")), masked(true, 0, codec.OpContinuation, []byte("b"))},
			[]echo{{codec.OpPong, []byte("p")}, {codec.OpText, []byte("ab")}}, 0},
		{"5.9 continuation first", [][]byte{masked(true, 0, codec.OpContinuation, []byte("x")), text("y")}, nil, codec.StatusProtocolError},
		{"5.15 text after unfinished text", [][]byte{masked(false, 0, codec.OpText, []byte("a")), masked(true, 0, codec.OpContinuation, []byte("b")), masked(true, 0, codec.OpContinuation, []byte("c"))},
			[]echo{{codec.OpText, []byte("ab")}}, codec.StatusProtocolError},
		{"5.18 two starts", [][]byte{masked(false, 0, codec.OpText, []byte("a")), masked(false, 0, codec.OpText, []byte("b"))}, nil, codec.StatusProtocolError},
		{"5.19 fragments with pings", [][]byte{
			masked(false, 0, codec.OpText, []byte("1")), masked(false, 0, codec.OpContinuation, []byte("2")), masked(true, 0, codec.OpPing, []byte("x")),
			masked(false, 0, codec.OpContinuation, []byte("3")), masked(true, 0, codec.OpPing, []byte("y")), masked(true, 0, codec.OpContinuation, []byte("4"))},
			[]echo{{codec.OpPong, []byte("x")}, {codec.OpPong, []byte("y")}, {codec.OpText, []byte("1234")}}, 0},
		// 6.x UTF-8.
		{"6.2.3 valid multi-byte in chunks of 1", chunks(text("Hello-µ@ßöäüàá-UTF-8!!"), 1), []echo{{codec.OpText, []byte("Hello-µ@ßöäüàá-UTF-8!!")}}, 0},
		{"6.2.4 rune split across fragments", [][]byte{masked(false, 0, codec.OpText, []byte("\xce\xba\xe1")), masked(true, 0, codec.OpContinuation, []byte("\xbd\xb9"))}, []echo{{codec.OpText, []byte("\xce\xba\xe1\xbd\xb9")}}, 0},
		{"6.3.1 invalid", [][]byte{text("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")}, nil, codec.StatusInvalidPayload},
		{"6.6.1 lone continuation", [][]byte{text("\x80")}, nil, codec.StatusInvalidPayload},
		{"6.8.1 5-byte sequence", [][]byte{text("\xf8\x88\x80\x80\x80")}, nil, codec.StatusInvalidPayload},
		{"6.12.1 surrogate", [][]byte{text("\xed\xa0\x80")}, nil, codec.StatusInvalidPayload},
		{"6.16.1 code point above U+10FFFF", [][]byte{text("\xf4\x90\x80\x80")}, nil, codec.StatusInvalidPayload},
		{"6.4.1 fail fast: invalid first fragment, rest never sent", [][]byte{masked(false, 0, codec.OpText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"))}, nil, codec.StatusInvalidPayload},
		{"6.4.3 fail fast: invalid prefix of one frame, rest never sent", [][]byte{masked(true, 0, codec.OpText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64"))[:6+13]}, nil, codec.StatusInvalidPayload},
		{"6.x invalid UTF-8 split across fragments", [][]byte{masked(false, 0, codec.OpText, []byte("\xed")), masked(true, 0, codec.OpContinuation, []byte("\xa0\x80"))}, nil, codec.StatusInvalidPayload},
		// 7.x close.
		{"7.1.1 close echoed", [][]byte{text("x"), wstest.Close(1000, "")}, []echo{{codec.OpText, []byte("x")}}, codec.StatusNormalClosure},
		{"7.1.3 data after close ignored", [][]byte{wstest.Close(1000, ""), text("late")}, nil, codec.StatusNormalClosure},
		{"7.3.1 close without payload", [][]byte{masked(true, 0, codec.OpClose, nil)}, nil, codec.StatusNoStatus},
		{"7.3.2 close of one byte", [][]byte{masked(true, 0, codec.OpClose, []byte{0x03})}, nil, codec.StatusProtocolError},
		{"7.3.4 close with a 123-byte reason", [][]byte{wstest.Close(1000, strings.Repeat("*", 123))}, nil, codec.StatusNormalClosure},
		{"7.3.5 close with a 124-byte reason", [][]byte{wstest.Close(1000, strings.Repeat("*", 124))}, nil, codec.StatusProtocolError},
		{"7.5.1 close reason not UTF-8", [][]byte{wstest.Close(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")}, nil, codec.StatusInvalidPayload},
		{"7.7.x code 3000", [][]byte{wstest.Close(3000, "")}, nil, 3000},
		{"7.7.x code 4999", [][]byte{wstest.Close(4999, "")}, nil, 4999},
		{"7.9.1 code 0", [][]byte{wstest.Close(0, "")}, nil, codec.StatusProtocolError},
		{"7.9.2 code 999", [][]byte{wstest.Close(999, "")}, nil, codec.StatusProtocolError},
		{"7.9.3 code 1004", [][]byte{wstest.Close(1004, "")}, nil, codec.StatusProtocolError},
		{"7.9.4 code 1005", [][]byte{wstest.Close(1005, "")}, nil, codec.StatusProtocolError},
		{"7.9.5 code 1006", [][]byte{wstest.Close(1006, "")}, nil, codec.StatusProtocolError},
		{"7.9.9 code 1015", [][]byte{wstest.Close(1015, "")}, nil, codec.StatusProtocolError},
		{"7.9.10 code 1016", [][]byte{wstest.Close(1016, "")}, nil, codec.StatusProtocolError},
		{"7.9.12 code 2999", [][]byte{wstest.Close(2999, "")}, nil, codec.StatusProtocolError},
		{"7.13.2 code 5000", [][]byte{wstest.Close(5000, "")}, nil, codec.StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := wstest.Upgrade(t, addr, "/")
			for _, b := range tc.send {
				c.Write(b)
			}
			for _, e := range tc.echoes {
				expectFrame(t, c, e.op, e.p)
			}
			if tc.code == 0 {
				c.Echo("still open")
				return
			}
			c.ExpectClose(tc.code)
		})
	}
}

func chunks(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func repeatEcho[T any](e T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// TestAutobahnLimitsGorilla: cases 9.x and 10.1 with gorilla/websocket:
// large messages single-frame and fragmented into chunks, echoed intact.
func TestAutobahnLimitsGorilla(t *testing.T) {
	t.Parallel()
	addr := echoAddr(t)
	cases := []struct {
		name  string
		size  int
		chunk int // 0: one frame
		op    int
	}{
		{"9.1.1 text 64 KiB", 64 << 10, 0, websocket.TextMessage},
		{"9.1.3 text 1 MiB", 1 << 20, 0, websocket.TextMessage},
		{"9.1.6 text 16 MiB", 16 << 20, 0, websocket.TextMessage},
		{"9.2.3 binary 1 MiB", 1 << 20, 0, websocket.BinaryMessage},
		{"9.4.1 binary 4 MiB in 64 B fragments", 4 << 20, 64, websocket.BinaryMessage},
		{"9.4.5 binary 4 MiB in 4 KiB fragments", 4 << 20, 4 << 10, websocket.BinaryMessage},
		{"9.4.9 binary 4 MiB in 1 MiB fragments", 4 << 20, 1 << 20, websocket.BinaryMessage},
		{"10.1.1 text 64 KiB in 1 KiB fragments", 64 << 10, 1 << 10, websocket.TextMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := websocket.Dialer{WriteBufferSize: max(tc.chunk, 4096)}
			c, _, err := d.Dial("ws://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadLimit(32 << 20)
			msg := bytes.Repeat([]byte("*"), tc.size)
			if tc.chunk > 0 {
				w, err := c.NextWriter(tc.op)
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off < len(msg); off += tc.chunk {
					if _, err := w.Write(msg[off:min(off+tc.chunk, len(msg))]); err != nil {
						t.Fatal(err)
					}
				}
				w.Close()
			} else if err := c.WriteMessage(tc.op, msg); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			typ, got, err := c.ReadMessage()
			if err != nil || typ != tc.op || !bytes.Equal(got, msg) {
				t.Fatalf("echo: type %d, %d bytes, %v", typ, len(got), err)
			}
		})
	}
}

// TestAutobahnDeflate: cases 12.x and 13.x, permessage-deflate echoes of
// compressible and random payloads under each client offer, with gorilla
// (no context takeover), coder/websocket (with and without context
// takeover) and a raw client whose offers gorilla and coder cannot make.
func TestAutobahnDeflate(t *testing.T) {
	t.Parallel()
	addr := echoAddr(t)
	rng := rand.New(rand.NewPCG(7, 9))
	payloads := map[string][]byte{}
	for _, n := range []int{16, 64, 256, 1024, 4096, 32 << 10, 128 << 10} {
		random := make([]byte, n)
		for i := range random {
			random[i] = byte(rng.IntN(256))
		}
		payloads[fmt.Sprintf("compressible %d", n)] = bytes.Repeat([]byte("c1m "), n/4)
		payloads[fmt.Sprintf("random %d", n)] = random
	}

	t.Run("gorilla", func(t *testing.T) {
		d := websocket.Dialer{EnableCompression: true}
		c, resp, err := d.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
			t.Fatalf("deflate not negotiated: %q", ext)
		}
		for name, p := range payloads {
			if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%s: %d bytes, %v", name, len(got), err)
			}
		}
	})

	for _, mode := range []coder.CompressionMode{coder.CompressionContextTakeover, coder.CompressionNoContextTakeover} {
		t.Run(fmt.Sprintf("coder mode %d", mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, resp, err := coder.Dial(ctx, "ws://"+addr+"/", &coder.DialOptions{CompressionMode: mode, CompressionThreshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
				t.Fatalf("deflate not negotiated: %q", ext)
			}
			// The same payloads several times: with context takeover the
			// client's later messages refer back to the earlier ones.
			for round := range 3 {
				for name, p := range payloads {
					if err := c.Write(ctx, coder.MessageBinary, p); err != nil {
						t.Fatal(err)
					}
					if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, p) {
						t.Fatalf("round %d %s: %d bytes, %v", round, name, len(got), err)
					}
				}
			}
			c.Close(coder.StatusNormalClosure, "")
		})
	}

	offers := []struct {
		offer  string
		window int // client window bits the answer grants, 0: no context takeover
	}{
		{"permessage-deflate; client_no_context_takeover", 0},
		{"permessage-deflate; client_max_window_bits", 12},
		{"permessage-deflate; client_max_window_bits=9", 9},
		{"permessage-deflate; client_max_window_bits=15", 12},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", 0},
		// No window offered: the client could use 15 bits, more than the
		// default ClientWindowBits (12), so it is told to keep no context.
		{"permessage-deflate", 0},
	}
	for _, o := range offers {
		t.Run(o.offer, func(t *testing.T) {
			c := wstest.Dial(t, addr)
			c.Write([]byte(wstest.Request("/", "Sec-WebSocket-Extensions: "+o.offer+"\r\n")))
			resp := c.Response()
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if resp.StatusCode != 101 || !strings.Contains(ext, "server_no_context_takeover") {
				t.Fatalf("status %d extensions %q", resp.StatusCode, ext)
			}
			if noContext := strings.Contains(ext, "client_no_context_takeover"); noContext != (o.window == 0) {
				t.Fatalf("answer %q, want a client window of %d bits", ext, o.window)
			}
			// The client compresses with the window the server granted,
			// keeping its context across messages unless told not to.
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, flate.BestCompression)
			for i, msg := range []string{"the first message", "the first message, again", "the first message, and once more"} {
				if o.window == 0 {
					fw.Reset(&buf)
				}
				buf.Reset()
				fw.Write([]byte(msg))
				fw.Flush()
				comp := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
				c.Write(masked(true, 0b100, codec.OpText, comp))
				f := c.MustFrame()
				got := f.Payload
				if f.Rsv&0b100 != 0 {
					got = inflate(t, f.Payload)
				}
				if f.Op != codec.OpText || string(got) != msg {
					t.Fatalf("message %d: %v %q", i, f, got)
				}
			}
		})
	}
}

func inflate(t *testing.T, p []byte) []byte {
	r := flate.NewReader(bytes.NewReader(append(append([]byte(nil), p...), 0, 0, 0xff, 0xff)))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.Bytes()
}
