// Command gorilla is the gorilla/websocket peer: a reader goroutine and a
// writer goroutine per connection.
package main

import (
	"log"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

func main() {
	addr, api := peer.Flags()
	hub := peer.NewHub()
	peer.ServeAPI(api, hub)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		topic := r.URL.Query().Get("topic")
		q := make(peer.Queue, peer.QueueLen)
		hub.Join(topic, q)
		go func() {
			for m := range q {
				if c.WriteMessage(websocket.BinaryMessage, m) != nil {
					return
				}
			}
		}()
		defer func() { hub.Leave(topic, q); close(q); c.Close() }()
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			_ = typ
			q.Send(m)
		}
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
