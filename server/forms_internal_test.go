package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// TestEncodeOncePerForm: a publication is encoded once per wire form, not
// once per subscriber or per loop, and each subscriber gets it in its own
// form: the published bytes or the envelope, each plain or compressed
// (gorilla/websocket inflates what it negotiated).
func TestEncodeOncePerForm(t *testing.T) {
	t.Parallel()
	const (
		perForm = 6 // subscribers of each form, spread over the loops
		pubs    = 5
	)
	srv := New(NewPush(nil), &Config{
		Addr:        "127.0.0.1:0",
		Loops:       2,
		Protocols:   []string{codec.EnvelopeProtocol},
		Compression: &codec.DeflateConfig{MinSize: -1},
	})
	var calls [numForms]atomic.Int64
	for f, enc := range srv.encoders {
		srv.encoders[f] = func(p *session.Publication) []byte {
			calls[f].Add(1)
			return enc(p)
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})

	type client struct {
		conn     *websocket.Conn
		envelope bool
	}
	var clients []client
	for f := range wsForms {
		envelope, deflate := f >= formEnvelope, f%2 == 1
		d := websocket.Dialer{EnableCompression: deflate}
		if envelope {
			d.Subprotocols = []string{codec.EnvelopeProtocol}
		}
		for range perForm {
			c, resp, err := d.Dial("ws://"+srv.Addr().String()+"/ws?topic=t", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != deflate {
				t.Fatalf("form %d: deflate negotiated %v", f, got)
			}
			clients = append(clients, client{c, envelope})
		}
	}
	if srv.Connections() != wsForms*perForm {
		t.Fatalf("%d connections", srv.Connections())
	}
	if len(srv.hub.Shards()) < 2 {
		t.Fatal("the subscribers are all on one loop")
	}

	for i := range pubs {
		if _, err := srv.Hub().Publish("t", []byte(fmt.Sprintf("publication %d, long enough to compress well: %s", i, strings.Repeat("x", 64)))); err != nil {
			t.Fatal(err)
		}
	}
	for k, c := range clients {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if c.envelope { // first, where the subscription starts
			if _, p, err := c.conn.ReadMessage(); err != nil || !strings.HasPrefix(string(p), `{"op":"subscribed","topic":"t"`) {
				t.Fatalf("client %d: %s %v, want the subscribed message", k, p, err)
			}
		}
		for i := range pubs {
			want := fmt.Sprintf("publication %d, long enough to compress well: %s", i, strings.Repeat("x", 64))
			typ, p, err := c.conn.ReadMessage()
			if err != nil || typ != websocket.TextMessage {
				t.Fatalf("client %d: %d %v", k, typ, err)
			}
			if c.envelope {
				var env struct {
					Topic  string
					Offset uint64
					Data   string
				}
				if err := json.Unmarshal(p, &env); err != nil || env.Topic != "t" || env.Offset != uint64(i+1) || env.Data != want {
					t.Fatalf("client %d: envelope %s (%v)", k, p, err)
				}
			} else if string(p) != want {
				t.Fatalf("client %d: %q, want %q", k, p, want)
			}
		}
	}
	for f := range wsForms {
		if n := calls[f].Load(); n != pubs {
			t.Errorf("form %d encoded %d times for %d publications to %d subscribers", f, n, pubs, perForm)
		}
	}
}
