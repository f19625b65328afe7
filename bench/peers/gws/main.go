// Command gws is the lxzan/gws peer: the library's read loop runs in one
// goroutine per connection; fan-out uses its WriteAsync queue.
package main

import (
	"log"
	"net/http"

	"github.com/lxzan/gws"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

type handler struct {
	gws.BuiltinEventHandler
	hub *peer.Hub
}

// conn adapts a gws socket to peer.Sender.
type conn struct{ s *gws.Conn }

func (c conn) Send(data []byte) { c.s.WriteAsync(gws.OpcodeBinary, data, nil) }

func (h *handler) OnClose(s *gws.Conn, _ error) {
	if topic, ok := s.Session().Load("topic"); ok {
		h.hub.Leave(topic.(string), conn{s})
	}
}

func (h *handler) OnMessage(s *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = s.WriteMessage(m.Opcode, m.Bytes())
}

func main() {
	addr, api := peer.Flags()
	hub := peer.NewHub()
	peer.ServeAPI(api, hub)
	h := &handler{hub: hub}
	up := gws.NewUpgrader(h, &gws.ServerOption{})
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		s, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		topic := r.URL.Query().Get("topic")
		s.Session().Store("topic", topic)
		hub.Join(topic, conn{s})
		go s.ReadLoop()
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
