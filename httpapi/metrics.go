package httpapi

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// collector exports the shards' counters at scrape time: the loops keep
// plain atomics and never call into Prometheus.
type collector struct {
	srv *server.Server

	connections, sessions, loopLag, handedOver *prometheus.Desc
	messagesIn, messagesOut, bytesIn, bytesOut *prometheus.Desc
	publications, deliveries, evictions        *prometheus.Desc
	dropped, replayed                          *prometheus.Desc
	fanout, outboundPeak                       *prometheus.Desc
	histTopics, histEntries, histBytes         *prometheus.Desc
	engineIO                                   *prometheus.Desc
}

func newCollector(srv *server.Server) *collector {
	loop := []string{"loop"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("c1m_"+name, help, labels, nil)
	}
	return &collector{
		srv:          srv,
		connections:  d("connections", "Open client connections, in any state.", loop...),
		sessions:     d("sessions", "Open sessions (handshake done).", loop...),
		loopLag:      d("loop_lag_seconds", "Delay of the last tick task on the loop.", loop...),
		handedOver:   d("connections_handed_over_total", "Connections the loop accepted and handed to a lighter loop.", loop...),
		messagesIn:   d("messages_in_total", "Messages received from clients.", loop...),
		messagesOut:  d("messages_out_total", "Messages sent to clients.", loop...),
		bytesIn:      d("bytes_in_total", "Payload bytes received from clients.", loop...),
		bytesOut:     d("bytes_out_total", "Payload bytes sent to clients.", loop...),
		publications: d("publications_total", "Publications fanned out, counted once per loop.", loop...),
		deliveries:   d("deliveries_total", "Messages publications became.", loop...),
		evictions:    d("evictions_total", "Sessions ended by the server, by reason.", "loop", "reason"),
		dropped:      d("dropped_total", "Messages dropped for slow clients that stayed connected (drop policy).", loop...),
		replayed:     d("replayed_total", "Publications sent from history to clients that resumed.", loop...),
		fanout:       d("fanout_latency_seconds", "Time from publish to the last write on a loop."),
		histTopics:   d("history_topics", "Topics the node numbers (with subscribers or history)."),
		histEntries:  d("history_entries", "Publications kept in topic history."),
		histBytes:    d("history_bytes", "Memory of topic history, as counted against its cap."),
		outboundPeak: d("outbound_peak_bytes", "Most bytes ever queued for one session.", loop...),
		engineIO:     d("engineio_sessions", "Open Engine.IO sessions, by transport (also in c1m_sessions).", "transport"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.sessions, c.loopLag, c.handedOver, c.messagesIn, c.messagesOut,
		c.bytesIn, c.bytesOut, c.publications, c.deliveries, c.evictions, c.dropped, c.replayed, c.fanout,
		c.outboundPeak, c.histTopics, c.histEntries, c.histBytes, c.engineIO} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var buckets = map[float64]uint64{}
	var count uint64
	var sum float64
	for _, sh := range loops(c.srv) {
		st := sh.Stats()
		l := strconv.Itoa(sh.Index())
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l)
		}
		gauge(c.connections, float64(st.Connections.Load()))
		gauge(c.sessions, float64(st.Sessions.Load()))
		gauge(c.loopLag, float64(st.LoopLag.Load())/1e9)
		gauge(c.outboundPeak, float64(st.OutboundPeak.Load()))
		counter(c.handedOver, st.HandedOver.Load())
		counter(c.messagesIn, st.MessagesIn.Load())
		counter(c.messagesOut, st.MessagesOut.Load())
		counter(c.bytesIn, st.BytesIn.Load())
		counter(c.bytesOut, st.BytesOut.Load())
		counter(c.publications, st.Publications.Load())
		counter(c.deliveries, st.Deliveries.Load())
		counter(c.dropped, st.Dropped.Load())
		counter(c.replayed, st.Replayed.Load())
		for _, r := range session.Reasons() {
			ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions(r)), l, r.String())
		}
		counts, s := st.FanoutLatency.Snapshot()
		cum := uint64(0)
		for i, b := range st.FanoutLatency.Bounds() {
			cum += counts[i]
			buckets[b.Seconds()] += cum
		}
		count += cum + counts[len(counts)-1]
		sum += s.Seconds()
	}
	ch <- prometheus.MustNewConstHistogram(c.fanout, count, sum, buckets)
	polling, websocket := c.srv.EngineSessions()
	ch <- prometheus.MustNewConstMetric(c.engineIO, prometheus.GaugeValue, float64(polling), "polling")
	ch <- prometheus.MustNewConstMetric(c.engineIO, prometheus.GaugeValue, float64(websocket), "websocket")
	h := c.srv.Hub().History()
	ch <- prometheus.MustNewConstMetric(c.histTopics, prometheus.GaugeValue, float64(h.Topics))
	ch <- prometheus.MustNewConstMetric(c.histEntries, prometheus.GaugeValue, float64(h.Entries))
	ch <- prometheus.MustNewConstMetric(c.histBytes, prometheus.GaugeValue, float64(h.Bytes))
}

// denialCollector exports Push's refusals by reason.
type denialCollector struct {
	push *server.Push
	desc *prometheus.Desc
}

func newDenialCollector(p *server.Push) *denialCollector {
	return &denialCollector{push: p, desc: prometheus.NewDesc("c1m_auth_denials_total",
		"Requests and commands refused by authentication or topic permissions, by reason.", []string{"reason"}, nil)}
}

func (c *denialCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *denialCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range server.AllDenials() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.push.Denials(d)), d.String())
	}
}

// loops returns srv's shards, one per event loop, for the per-loop
// figures. The embedding API (server.Hub) does not list them: this
// package converts to the machinery explicitly.
func loops(srv *server.Server) []*session.Shard {
	return (*session.Hub)(srv.Hub()).Shards()
}
