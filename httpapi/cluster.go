package httpapi

import (
	"context"
	"net/http"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/codec"
)

// Cluster is what the API asks of a node's link to the other nodes
// (*broker.Broker). Its methods are Safe for concurrent use.
type Cluster interface {
	// Ready returns nil while the node is linked to the cluster.
	Ready() error
	// ClusterStats returns every node's figures.
	ClusterStats(ctx context.Context) ([]broker.NodeStats, error)
	// ClusterPresence returns every node's subscriber count of topic, and
	// their sum.
	ClusterPresence(ctx context.Context, topic string) ([]broker.NodePresence, int64, error)
}

var _ Cluster = (*broker.Broker)(nil)

// ClusterStats is the JSON of GET /api/stats?scope=cluster.
type ClusterStats struct {
	Nodes       []broker.NodeStats `json:"nodes"`
	Connections int64              `json:"connections"`
	Sessions    int64              `json:"sessions"`
}

// clusterStats: GET /api/stats?scope=cluster, every node's figures (the
// nodes that answered within the broker's request timeout) and their sums.
func (a *API) clusterStats(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Cluster == nil {
		httpError(w, http.StatusNotFound, "not a cluster: run with -nats")
		return
	}
	nodes, err := a.cfg.Cluster.ClusterStats(r.Context())
	if err != nil {
		unavailable(w, err)
		return
	}
	st := ClusterStats{Nodes: nodes}
	if st.Nodes == nil {
		st.Nodes = []broker.NodeStats{}
	}
	for _, n := range nodes {
		st.Connections += n.Connections
		st.Sessions += n.Sessions
	}
	writeJSON(w, st)
}

// Presence is the JSON of GET /api/presence?topic=T.
type Presence struct {
	Topic       string                `json:"topic"`
	Subscribers int64                 `json:"subscribers"`
	Nodes       []broker.NodePresence `json:"nodes,omitempty"`
}

// presence: GET /api/presence?topic=T, the sessions subscribed to T: on
// every node of a cluster, else on this one.
func (a *API) presence(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	if !codec.ValidTopic(topic) {
		httpError(w, http.StatusBadRequest, "missing or bad topic")
		return
	}
	if a.cfg.Cluster == nil {
		writeJSON(w, Presence{Topic: topic, Subscribers: a.srv.Hub().Presence(topic)})
		return
	}
	nodes, sum, err := a.cfg.Cluster.ClusterPresence(r.Context(), topic)
	if err != nil {
		unavailable(w, err)
		return
	}
	writeJSON(w, Presence{Topic: topic, Subscribers: sum, Nodes: nodes})
}
