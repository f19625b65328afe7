package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// Config configures the API. Its zero value works.
type Config struct {
	// APIKey, when set, is required on /api/ requests as
	// "Authorization: Bearer KEY". Probes, metrics and pprof stay open:
	// bind the API listener to a private address.
	APIKey string
	// MaxBody caps a publication's size. Zero means 1 MiB.
	MaxBody int64
	// Push, when set, is the server's handler: its refusals by reason are
	// exported as c1m_auth_denials_total. Nil exports none.
	Push *server.Push
	// Cluster, when set, is the node's link to the other nodes: /readyz
	// reports degraded while it is down, and /api/stats?scope=cluster and
	// /api/presence ask every node. Nil: a single node.
	Cluster Cluster
	// NodeID, when set, labels every metric with node="NodeID" and is
	// reported in /api/stats. Empty: no label.
	NodeID string
}

// DefaultMaxBody is the default cap on a published body.
const DefaultMaxBody = 1 << 20

// API serves the backend endpoints of one server.
type API struct {
	srv   *server.Server
	cfg   Config
	ready atomic.Bool
	mux   *http.ServeMux
	start time.Time
}

// New returns the API of srv. It reports ready until SetReady(false).
func New(srv *server.Server, cfg *Config) *API {
	a := &API{srv: srv, mux: http.NewServeMux(), start: time.Now()}
	if cfg != nil {
		a.cfg = *cfg
	}
	if a.cfg.MaxBody <= 0 {
		a.cfg.MaxBody = DefaultMaxBody
	}
	a.ready.Store(true)

	reg := prometheus.NewRegistry()
	var r prometheus.Registerer = reg
	if a.cfg.NodeID != "" {
		r = prometheus.WrapRegistererWith(prometheus.Labels{"node": a.cfg.NodeID}, reg)
	}
	r.MustRegister(newCollector(srv), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.cfg.Push != nil {
		r.MustRegister(newDenialCollector(a.cfg.Push))
	}

	a.mux.HandleFunc("POST /api/publish", a.auth(a.publish))
	a.mux.HandleFunc("POST /api/broadcast", a.auth(a.broadcast))
	a.mux.HandleFunc("GET /api/stats", a.auth(a.stats))
	a.mux.HandleFunc("GET /api/presence", a.auth(a.presence))
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.mux.HandleFunc("/debug/pprof/", pprof.Index)
	a.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	a.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	a.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	a.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return a
}

// ServeHTTP implements http.Handler. Safe for concurrent use.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// SetReady sets what /readyz answers; a draining server sets it false first
// so that load balancers stop sending clients. Safe for concurrent use.
func (a *API) SetReady(ok bool) { a.ready.Store(ok) }

func (a *API) auth(next http.HandlerFunc) http.HandlerFunc {
	if a.cfg.APIKey == "" {
		return next
	}
	want := []byte("Bearer " + a.cfg.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="c1m"`)
			httpError(w, http.StatusUnauthorized, "missing or wrong API key")
			return
		}
		next(w, r)
	}
}

func (a *API) readyz(w http.ResponseWriter, _ *http.Request) {
	if !a.ready.Load() {
		httpError(w, http.StatusServiceUnavailable, "draining")
		return
	}
	if a.cfg.Cluster != nil {
		if err := a.cfg.Cluster.Ready(); err != nil {
			httpError(w, http.StatusServiceUnavailable, "degraded: "+err.Error())
			return
		}
	}
	io.WriteString(w, "ready\n")
}

// body reads a request body up to the limit.
func (a *API) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, "body over the limit")
		return nil, false
	}
	return data, true
}

// publish: POST /api/publish?topic=T, the body is the payload.
func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	if !codec.ValidTopic(topic) {
		httpError(w, http.StatusBadRequest, "missing or bad topic")
		return
	}
	data, ok := a.body(w, r)
	if !ok {
		return
	}
	off, err := a.srv.Hub().Publish(topic, data)
	if err != nil {
		unavailable(w, err)
		return
	}
	writeJSON(w, map[string]any{"topic": topic, "offset": off})
}

// broadcast: POST /api/broadcast, the body goes to every session.
func (a *API) broadcast(w http.ResponseWriter, r *http.Request) {
	data, ok := a.body(w, r)
	if !ok {
		return
	}
	if err := a.srv.Hub().Broadcast(data); err != nil {
		unavailable(w, err)
		return
	}
	writeJSON(w, map[string]any{"broadcast": true})
}

// backlogRetryAfter is what a publisher refused for backlog is told to
// wait: the loops drain their inboxes in milliseconds once they catch up.
const backlogRetryAfter = "1"

// unavailable answers a publication the server could not take: 503, with
// Retry-After when the loops are behind (session.ErrBacklog) rather than
// stopping.
func unavailable(w http.ResponseWriter, err error) {
	if errors.Is(err, session.ErrBacklog) || errors.Is(err, session.ErrUnavailable) {
		w.Header().Set("Retry-After", backlogRetryAfter)
	}
	httpError(w, http.StatusServiceUnavailable, err.Error())
}

// Stats is the JSON of GET /api/stats.
type Stats struct {
	Node           string            `json:"node,omitempty"`
	Connections    int64             `json:"connections"`
	Sessions       int64             `json:"sessions"`
	Loops          []LoopStats       `json:"loops"`
	MessagesIn     uint64            `json:"messages_in"`
	MessagesOut    uint64            `json:"messages_out"`
	BytesIn        uint64            `json:"bytes_in"`
	BytesOut       uint64            `json:"bytes_out"`
	Publications   uint64            `json:"publications"`
	Deliveries     uint64            `json:"deliveries"`
	Replayed       uint64            `json:"replayed"`
	History        HistoryStats      `json:"history"`
	Dropped        uint64            `json:"dropped"`
	Evictions      map[string]uint64 `json:"evictions"`
	HeapAllocBytes uint64            `json:"heap_alloc_bytes"`
	HeapInuseBytes uint64            `json:"heap_inuse_bytes"`
	Goroutines     int               `json:"goroutines"`
	UptimeSeconds  float64           `json:"uptime_seconds"`
	// EngineIO counts the Engine.IO sessions (server.Config.Engine) by
	// transport; they are in Sessions too.
	EngineIO EngineIOStats `json:"engineio"`
}

// EngineIOStats are the open Engine.IO sessions by transport.
type EngineIOStats struct {
	Polling   int64 `json:"polling"`
	WebSocket int64 `json:"websocket"`
}

// HistoryStats are the figures of the node's topic history.
type HistoryStats struct {
	Topics   int   `json:"topics"`    // topics numbered (with subscribers or history)
	Entries  int64 `json:"entries"`   // publications kept
	Bytes    int64 `json:"bytes"`     // what they hold, against max_bytes
	MaxBytes int64 `json:"max_bytes"` // the cap; 0 for none
}

// LoopStats are one event loop's figures.
type LoopStats struct {
	Loop        int     `json:"loop"`
	Connections int64   `json:"connections"`
	Sessions    int64   `json:"sessions"`
	LagMillis   float64 `json:"lag_ms"`
	HandedOver  uint64  `json:"handed_over"` // connections accepted here and handed to a lighter loop
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("scope") {
	case "", "node":
	case "cluster":
		a.clusterStats(w, r)
		return
	default:
		httpError(w, http.StatusBadRequest, "scope: node or cluster")
		return
	}
	if r.URL.Query().Get("gc") == "1" {
		// For memory measurements: collect and return freed pages first,
		// so heap and RSS show what the connections hold.
		debug.FreeOSMemory()
	}
	hub := a.srv.Hub()
	tot := hub.Totals()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		Node:        a.cfg.NodeID,
		Connections: tot.Connections, Sessions: tot.Sessions,
		MessagesIn: tot.MessagesIn, MessagesOut: tot.MessagesOut,
		BytesIn: tot.BytesIn, BytesOut: tot.BytesOut,
		Publications: tot.Publications, Deliveries: tot.Deliveries, Dropped: tot.Dropped,
		Replayed:       tot.Replayed,
		Evictions:      tot.Evictions,
		HeapAllocBytes: ms.HeapAlloc, HeapInuseBytes: ms.HeapInuse,
		Goroutines:    runtime.NumGoroutine(),
		UptimeSeconds: time.Since(a.start).Seconds(),
		Loops:         []LoopStats{},
	}
	st.EngineIO.Polling, st.EngineIO.WebSocket = a.srv.EngineSessions()
	h := hub.History()
	st.History = HistoryStats{Topics: h.Topics, Entries: h.Entries, Bytes: h.Bytes, MaxBytes: h.Limit}
	for _, sh := range loops(a.srv) {
		s := sh.Stats()
		st.Loops = append(st.Loops, LoopStats{
			Loop: sh.Index(), Connections: s.Connections.Load(), Sessions: s.Sessions.Load(),
			LagMillis: float64(s.LoopLag.Load()) / 1e6, HandedOver: s.HandedOver.Load(),
		})
	}
	writeJSON(w, st)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("httpapi: write", "err", err)
	}
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": strings.TrimSpace(msg)})
}
