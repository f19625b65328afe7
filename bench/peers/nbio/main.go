// Command nbio is the lesismal/nbio peer: nbhttp in its non-blocking I/O
// mode, with no goroutine per connection.
package main

import (
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

type conn struct{ c *websocket.Conn }

func (c conn) Send(data []byte) { _ = c.c.WriteMessage(websocket.BinaryMessage, data) }

func main() {
	addr, api := peer.Flags()
	hub := peer.NewHub()
	peer.ServeAPI(api, hub)
	up := websocket.NewUpgrader()
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) { _ = c.WriteMessage(mt, data) })
	up.OnClose(func(c *websocket.Conn, _ error) {
		if topic, ok := c.Session().(string); ok {
			hub.Leave(topic, conn{c})
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		topic := r.URL.Query().Get("topic")
		c.SetSession(topic)
		hub.Join(topic, conn{c})
	})
	engine := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux, IOMod: nbhttp.IOModNonBlocking})
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	engine.Stop()
}
