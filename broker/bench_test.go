package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/server"
)

// BenchmarkPublishToDelivery: the time from Hub.Publish to the arrival of
// the publication at a WebSocket subscriber, one publication at a time:
// on a single node, and in a cluster with the subscriber on the publishing
// node and on another. The difference is what the bus adds.
func BenchmarkPublishToDelivery(b *testing.B) {
	ns := natstest.Start(b)
	single := server.New(server.NewPush(nil), &server.Config{Addr: "127.0.0.1:0", Loops: 2, History: testHistory, Protocols: []string{codec.EnvelopeProtocol}})
	if err := single.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = single.Shutdown(context.Background()) })
	n1, n2 := startNode(b, ns.URL(), "a", nil), startNode(b, ns.URL(), "b", nil)
	run := func(b *testing.B, pub *server.Server, addr string) {
		c := dialWS(b, addr, q("topic", "lat"))
		readEnvelope(b, c) // subscribed
		payload := []byte("0123456789abcdef0123456789abcdef")
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := pub.Hub().Publish("lat", payload); err != nil {
				b.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("single-node", func(b *testing.B) { run(b, single, single.Addr().String()) })
	b.Run("cluster-same-node", func(b *testing.B) { run(b, n1.srv, n1.addr) })
	b.Run("cluster-other-node", func(b *testing.B) { run(b, n1.srv, n2.addr) })
}
