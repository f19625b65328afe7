// Package peer is what the peer servers share: the topic hub, the HTTP API
// (POST /publish?topic=T, GET /stats) and the flags. Each peer implements
// the same surface as well as its library allows: WebSocket on /ws (the
// ?topic= query subscribes, every message is echoed back), publication to
// every subscriber of a topic, stats with the Go heap.
package peer

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Sender queues a message for one connection without blocking.
type Sender interface{ Send(data []byte) }

// Hub maps topics to their subscribers.
type Hub struct {
	mu     sync.RWMutex
	topics map[string]map[Sender]struct{}
	Conns  atomic.Int64
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{topics: map[string]map[Sender]struct{}{}} }

// Join subscribes s to topic.
func (h *Hub) Join(topic string, s Sender) {
	h.Conns.Add(1)
	if topic == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.topics[topic] == nil {
		h.topics[topic] = map[Sender]struct{}{}
	}
	h.topics[topic][s] = struct{}{}
}

// Leave unsubscribes s.
func (h *Hub) Leave(topic string, s Sender) {
	h.Conns.Add(-1)
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.topics[topic], s)
}

// Publish sends data to every subscriber of topic.
func (h *Hub) Publish(topic string, data []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.topics[topic] {
		s.Send(data)
	}
	return len(h.topics[topic])
}

// Flags parses -addr and -api.
func Flags() (addr, api string) {
	a := flag.String("addr", "127.0.0.1:9001", "WebSocket listener")
	b := flag.String("api", "127.0.0.1:9002", "API listener")
	flag.Parse()
	return *a, *b
}

// ServeAPI serves /publish and /stats on api, in the background.
func ServeAPI(api string, h *Hub) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := h.Publish(r.URL.Query().Get("topic"), data)
		_ = json.NewEncoder(w).Encode(map[string]int{"subscribers": n})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"connections": h.Conns.Load(), "heap_alloc_bytes": ms.HeapAlloc, "heap_inuse_bytes": ms.HeapInuse,
		})
	})
	go func() { log.Fatal(http.ListenAndServe(api, mux)) }()
}

// Queue is a Sender for libraries with a goroutine per connection: a
// buffered channel drained by the connection's writer goroutine; when it is
// full the message is dropped (the slow-consumer policy of a typical
// application on these libraries).
type Queue chan []byte

// Send implements Sender.
func (q Queue) Send(data []byte) {
	select {
	case q <- data:
	default:
	}
}

// QueueLen is each connection's queue length.
const QueueLen = 256
