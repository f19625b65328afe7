// Command coder is the coder/websocket peer: a reader goroutine and a
// writer goroutine per connection.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/coder/websocket"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

func main() {
	addr, api := peer.Flags()
	hub := peer.NewHub()
	peer.ServeAPI(api, hub)
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		topic := r.URL.Query().Get("topic")
		q := make(peer.Queue, peer.QueueLen)
		hub.Join(topic, q)
		go func() {
			for m := range q {
				if c.Write(ctx, websocket.MessageBinary, m) != nil {
					return
				}
			}
		}()
		defer func() { hub.Leave(topic, q); close(q); c.CloseNow() }()
		for {
			_, m, err := c.Read(ctx)
			if err != nil {
				return
			}
			q.Send(m)
		}
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
