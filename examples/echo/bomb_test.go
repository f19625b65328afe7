package main

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
)

// bombSize is what the bomb inflates to: four times the echo server's
// MaxMessage (16 MiB).
const bombSize = 64 << 20

// bomb returns bombSize zero bytes compressed with permessage-deflate (a
// raw deflate stream, sync-flushed, without the 00 00 ff ff tail), built
// once: about 80 KiB, a ratio near deflate's ceiling of 1032:1.
var bomb = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range bombSize / len(zeros) {
		w.Write(zeros)
	}
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
})

// TestCompressionBomb: a client that negotiated permessage-deflate sends a
// message of a few tens of KiB, well under MaxFrame and MaxMessage on the
// wire, that inflates to four times MaxMessage. The server stops inflating
// at the limit and closes with 1009 (DESIGN.md: "frame or message over the
// limit"); connections on both event loops, plain and compressed, keep
// echoing before and after.
func TestCompressionBomb(t *testing.T) {
	t.Parallel()
	addr := echoAddr(t)
	p := bomb()
	if len(p) > 128<<10 {
		t.Fatalf("bomb of %d bytes: not the ratio this test is about", len(p))
	}
	cases := []struct {
		name  string
		offer string
		send  [][]byte
	}{
		{"one RSV1 binary frame", "permessage-deflate; client_no_context_takeover",
			[][]byte{wstest.Masked(true, 0b100, codec.OpBinary, p)}},
		{"RSV1 text in four fragments", "permessage-deflate; client_no_context_takeover", [][]byte{
			wstest.Masked(false, 0b100, codec.OpText, p[:len(p)/4]),
			wstest.Masked(false, 0, codec.OpContinuation, p[len(p)/4:len(p)/2]),
			wstest.Masked(false, 0, codec.OpContinuation, p[len(p)/2:3*len(p)/4]),
			wstest.Masked(true, 0, codec.OpContinuation, p[3*len(p)/4:])}},
		{"with client context takeover", "permessage-deflate",
			[][]byte{wstest.Masked(true, 0b100, codec.OpBinary, p)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Bystanders: the kernel puts each connection on one of the two
			// loops by a hash of its addresses, so twelve leave the bomb's
			// loop without one once in 4,096 runs.
			var raw []*wstest.Conn
			var gor []*websocket.Conn
			for range 6 {
				raw = append(raw, wstest.Upgrade(t, addr, "/"))
				d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: wstest.Timeout}
				c, resp, err := d.Dial("ws://"+addr+"/", nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
					t.Fatalf("gorilla bystander: deflate not negotiated: %q", ext)
				}
				gor = append(gor, c)
			}
			echoAll := func(when string) {
				t.Helper()
				for _, c := range raw {
					c.Echo("raw bystander " + when)
				}
				msg := []byte(strings.Repeat("compressed bystander "+when+" ", 20))
				for i, c := range gor {
					_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
					_ = c.SetWriteDeadline(time.Now().Add(wstest.Timeout))
					if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
						t.Fatalf("gorilla bystander %d %s: %v", i, when, err)
					}
					if typ, got, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || !bytes.Equal(got, msg) {
						t.Fatalf("gorilla bystander %d %s: type %d, %d bytes, %v", i, when, typ, len(got), err)
					}
				}
			}
			echoAll("before")

			c := wstest.Dial(t, addr)
			c.Write([]byte(wstest.Request("/", "Sec-WebSocket-Extensions: "+tc.offer+"\r\n")))
			resp := c.Response()
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); resp.StatusCode != http.StatusSwitchingProtocols || !strings.HasPrefix(ext, "permessage-deflate") {
				t.Fatalf("status %d extensions %q", resp.StatusCode, ext)
			}
			// A small compressed message first: the connection works.
			var small bytes.Buffer
			fw, _ := flate.NewWriter(&small, flate.BestSpeed)
			fw.Write([]byte("ok ok ok"))
			fw.Flush()
			c.Write(wstest.Masked(true, 0b100, codec.OpText, bytes.TrimSuffix(small.Bytes(), []byte{0, 0, 0xff, 0xff})))
			f := c.MustFrame()
			got := f.Payload
			if f.Rsv&0b100 != 0 {
				got = inflate(t, got)
			}
			if f.Op != codec.OpText || string(got) != "ok ok ok" {
				t.Fatalf("small compressed message: %v %q", f, got)
			}
			for _, b := range tc.send {
				c.Write(b)
			}
			c.ExpectClose(codec.StatusMessageTooBig)

			echoAll("after")
		})
	}
}
