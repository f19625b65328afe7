package broker_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/server"
)

// apiRate is the steady rate of BenchmarkAPIPublishLatency: pairs of
// publications per second, well below what either setup sustains, so
// that the figures are latencies, not queueing.
const apiRate = 200

// BenchmarkAPIPublishLatency: the latency of POST /api/publish on a
// single node and on a node of a two-node cluster (which waits for the
// sequencer's acknowledgement and for the publication to come back from
// the history stream, broker/await.go), measured in the same run: each
// tick of a steady apiRate sends one request to each, in alternating
// order, so that both see the same machine. Reports p50 and p99 of each
// in µs; b.N is the number of pairs.
func BenchmarkAPIPublishLatency(b *testing.B) {
	ns := natstest.Start(b)
	single := server.New(server.NewPush(nil), &server.Config{Addr: "127.0.0.1:0", Loops: 2, History: testHistory, Protocols: []string{codec.EnvelopeProtocol}})
	if err := single.Start(); err != nil {
		b.Fatal(err)
	}
	singleAPI := httptest.NewServer(httpapi.New(single, nil))
	b.Cleanup(func() { singleAPI.Close(); _ = single.Shutdown(context.Background()) })
	n1 := startNode(b, ns.URL(), "a", nil)
	startNode(b, ns.URL(), "b", nil)
	hc := httpClient(b)
	// A subscriber on each, so that each publication is delivered.
	for _, addr := range []string{single.Addr().String(), n1.addr} {
		c := dialWS(b, addr, q("topic", "lat"))
		readEnvelope(b, c)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	one := func(api string) time.Duration {
		start := time.Now()
		if _, err := publishAPI(hc, api, "lat", "0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, api := range []string{singleAPI.URL, n1.api} { // warm the connections
		one(api)
	}
	var lone, clus []time.Duration
	tick := time.NewTicker(time.Second / apiRate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		if i%2 == 0 {
			lone = append(lone, one(singleAPI.URL))
			clus = append(clus, one(n1.api))
		} else {
			clus = append(clus, one(n1.api))
			lone = append(lone, one(singleAPI.URL))
		}
	}
	b.StopTimer()
	pct := func(d []time.Duration, p int) float64 {
		slices.Sort(d)
		return float64(d[(len(d)-1)*p/100].Microseconds())
	}
	b.ReportMetric(pct(lone, 50), "single-p50-µs")
	b.ReportMetric(pct(lone, 99), "single-p99-µs")
	b.ReportMetric(pct(clus, 50), "cluster-p50-µs")
	b.ReportMetric(pct(clus, 99), "cluster-p99-µs")
	b.ReportMetric(0, "ns/op")
}
