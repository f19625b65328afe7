// Command socketio-go is the bench peer on github.com/zishang520/socket.io
// (servers/socket/v3), a Go port of the Node socket.io server on
// net/http: Socket.IO at /socket.io/ (WebSocket and long-polling, the
// library's defaults otherwise). A client joins a room by emitting "join"
// with its name; the ack (the room's name) says it is in. On the API port,
// POST /publish?topic=T emits "message" with the body, as a string, to
// room T, and GET /stats reports the clients in a room and the Go heap,
// as the other peers do.
//
// The library runs goroutines per connection (net/http's, and its
// WebSocket reader and writer): its memory per connection is the
// goroutine design's.
package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

func main() {
	addr, api := peer.Flags()
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	srv := socket.NewServer(nil, opts)
	var joined atomic.Int64
	_ = srv.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		var in atomic.Bool
		_ = s.On("join", func(args ...any) {
			if len(args) == 0 {
				return
			}
			room, ok := args[0].(string)
			if !ok {
				return
			}
			s.Join(socket.Room(room))
			if in.CompareAndSwap(false, true) {
				joined.Add(1)
			}
			if ack, ok := args[len(args)-1].(socket.Ack); ok {
				ack([]any{room}, nil)
			}
		})
		_ = s.On("disconnect", func(...any) {
			if in.Load() {
				joined.Add(-1)
			}
		})
	})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		data, err := readBody(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		room := r.URL.Query().Get("topic")
		if err := srv.To(socket.Room(room)).Emit("message", string(data)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]int64{"subscribers": joined.Load()})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"connections": joined.Load(), "heap_alloc_bytes": ms.HeapAlloc, "heap_inuse_bytes": ms.HeapInuse,
		})
	})
	go func() { log.Fatal(http.ListenAndServe(api, mux)) }()

	client := http.NewServeMux()
	client.Handle("/socket.io/", srv.ServeHandler(nil))
	log.Fatal(http.ListenAndServe(addr, client))
}

// maxBody bounds a publication.
const maxBody = 1 << 20

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
}
