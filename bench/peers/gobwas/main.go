// Command gobwas is the gobwas/ws peer over net.Conn (the library's
// net/http upgrade): a reader goroutine and a writer goroutine per
// connection.
package main

import (
	"log"
	"net/http"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

func main() {
	addr, api := peer.Flags()
	hub := peer.NewHub()
	peer.ServeAPI(api, hub)
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		topic := r.URL.Query().Get("topic")
		q := make(peer.Queue, peer.QueueLen)
		hub.Join(topic, q)
		go func() {
			for m := range q {
				if wsutil.WriteServerMessage(c, ws.OpBinary, m) != nil {
					return
				}
			}
		}()
		defer func() { hub.Leave(topic, q); close(q); c.Close() }()
		for {
			m, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			q.Send(m)
		}
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
