// Command gnetfloor is not a server to choose but the memory floor of a
// WebSocket server on gnet: a gnet engine that answers the handshake
// (gobwas/ws' upgrader over the request head, as c1m does) and then keeps
// the connection with no state of its own: no session, no decoder, no
// topic index. Its heap per connection is gnet's own cost plus the
// handshake's leftovers, the part of c1m's figure that c1m cannot remove.
//
// It has hold rows only: after the handshake it discards whatever arrives.
package main

import (
	"bytes"
	"log"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

// upgraded marks a connection past its handshake; the same value for
// every connection, so that it costs nothing per connection.
var upgraded = new(int)

type floor struct {
	gnet.BuiltinEventEngine
	hub  *peer.Hub
	open atomic.Int64
}

func (f *floor) OnTraffic(c gnet.Conn) gnet.Action {
	if c.Context() == upgraded {
		_, _ = c.Discard(-1)
		return gnet.None
	}
	buf, _ := c.Peek(-1)
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return gnet.None
	}
	head := buf[:end+4]
	var out bytes.Buffer
	if _, err := (&ws.Upgrader{}).Upgrade(headRW{bytes.NewReader(head), &out}); err != nil {
		return gnet.Close
	}
	_, _ = c.Discard(len(head))
	_, _ = c.Write(out.Bytes())
	c.SetContext(upgraded)
	f.hub.Join("", nil)
	return gnet.None
}

func (f *floor) OnClose(c gnet.Conn, _ error) gnet.Action {
	if c.Context() == upgraded {
		f.hub.Conns.Add(-1)
	}
	return gnet.None
}

// headRW feeds the upgrader exactly the request head and collects its
// answer.
type headRW struct {
	r *bytes.Reader
	w *bytes.Buffer
}

func (h headRW) Read(p []byte) (int, error)  { return h.r.Read(p) }
func (h headRW) Write(p []byte) (int, error) { return h.w.Write(p) }

func main() {
	addr, api := peer.Flags()
	f := &floor{hub: peer.NewHub()}
	peer.ServeAPI(api, f.hub)
	log.Fatal(gnet.Run(f, "tcp://"+addr, gnet.WithMulticore(true)))
}
