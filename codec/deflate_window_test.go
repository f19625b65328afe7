package codec

import (
	"fmt"
	"strings"
	"testing"
)

// TestDeflateClientWindowBound: the dictionary a connection may keep is at
// most 2^ClientWindowBits bytes, whatever the client offers, and nothing
// with ClientNoContext.
func TestDeflateClientWindowBound(t *testing.T) {
	t.Parallel()
	const ext = "Sec-Websocket-Extensions"
	cases := []struct {
		name   string
		cfg    DeflateConfig
		offer  string
		answer string
		window int
	}{
		{"bare offer, 12 bits", DeflateConfig{}, "permessage-deflate",
			"permessage-deflate;server_no_context_takeover;client_no_context_takeover", 0},
		{"bare offer, 15 bits", DeflateConfig{ClientWindowBits: 15}, "permessage-deflate",
			"permessage-deflate;server_no_context_takeover", 1 << 15},
		{"browser offer, 9 bits", DeflateConfig{ClientWindowBits: 9}, "permessage-deflate; client_max_window_bits",
			"permessage-deflate;server_no_context_takeover;client_max_window_bits=9", 1 << 9},
		{"window offered, ClientNoContext", DeflateConfig{ClientNoContext: true}, "permessage-deflate; client_max_window_bits=15",
			"permessage-deflate;server_no_context_takeover;client_no_context_takeover", 0},
		{"bare offer, ClientNoContext", DeflateConfig{ClientNoContext: true}, "permessage-deflate",
			"permessage-deflate;server_no_context_takeover;client_no_context_takeover", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := NewHandshaker(HandshakeConfig{Deflate: &tc.cfg})
			resp, hs, err := handshake(t, h, upgradeHead("Sec-WebSocket-Extensions: "+tc.offer+"\r\n"), nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			if got := resp.Header.Get(ext); got != tc.answer {
				t.Fatalf("answer %q, want %q", got, tc.answer)
			}
			if !hs.Deflate || hs.ClientWindow != tc.window {
				t.Fatalf("handshake %+v, want a window of %d", hs, tc.window)
			}
		})
	}
}

// TestInflaterDictionaryStaysAtWindow: the dictionary is allocated once at
// the window's size and never grows, however the messages come.
func TestInflaterDictionaryStaysAtWindow(t *testing.T) {
	t.Parallel()
	const window = 1 << 9
	f := NewInflater(window)
	for _, n := range []int{1, 100, window - 1, 3, window, 2*window + 1, 7} {
		f.remember(make([]byte, n))
		if len(f.dict) > window || cap(f.dict) != window {
			t.Fatalf("after %d bytes: dictionary %d bytes, capacity %d; want at most and exactly %d", n, len(f.dict), cap(f.dict), window)
		}
	}
	if a, b := NewInflater(0), NewInflater(0); a != b {
		t.Fatal("inflaters without context are not shared")
	}
}

// TestDeflateSmallServerWindow: a client that limits the server's window
// below 15 bits gets compression with the window it asked for, answered
// in kind, and its messages are compressed with Huffman codes only, which
// refer to nothing before them and so fit any window.
func TestDeflateSmallServerWindow(t *testing.T) {
	t.Parallel()
	h := NewHandshaker(HandshakeConfig{Deflate: &DeflateConfig{}})
	for bits := 8; bits <= maxWindowBits; bits++ {
		offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits", bits)
		resp, hs, err := handshake(t, h, upgradeHead("Sec-WebSocket-Extensions: "+offer+"\r\n"), nil)
		if err != nil || !hs.Deflate {
			t.Fatalf("%d bits: %+v %v", bits, hs, err)
		}
		ext := resp.Header.Get("Sec-Websocket-Extensions")
		small := bits < maxWindowBits
		if hs.HuffmanOnly != small {
			t.Fatalf("%d bits: HuffmanOnly %v", bits, hs.HuffmanOnly)
		}
		if want := fmt.Sprintf("server_max_window_bits=%d", bits); !strings.Contains(ext, want) {
			t.Fatalf("%d bits: answer %q without %s", bits, ext, want)
		}
	}
}
