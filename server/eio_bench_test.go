package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// BenchmarkEIOFanout publishes to a topic of 1,000 subscribers on one
// loop, plain WebSocket ones or Engine.IO ones on WebSocket, and reports
// deliveries per second (the clients run in the same process).
func BenchmarkEIOFanout(b *testing.B) {
	for _, kind := range []string{"ws", "eio-ws"} {
		b.Run(kind, func(b *testing.B) { fanoutBench(b, kind, 1000) })
	}
}

func fanoutBench(b *testing.B, kind string, subscribers int) {
	srv := server.New(server.NewPush(nil), &server.Config{Addr: "127.0.0.1:0", Loops: 1,
		Timing: session.Config{PingInterval: -1},
		Engine: &server.EngineConfig{Path: "/engine.io/", PingInterval: time.Hour,
			Handler: subscriber{}}})
	serve(b, srv)
	addr := srv.Addr().String()
	var wg sync.WaitGroup
	counts := make(chan int, subscribers)
	want := b.N
	for range subscribers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		path := "/ws?topic=bench"
		if kind == "eio-ws" {
			path = "/engine.io/?EIO=4&transport=websocket"
		}
		_, _ = c.Write([]byte(wstest.Request(path, "")))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("upgrade: %v %v", resp, err)
		}
		skip := 0
		if kind == "eio-ws" {
			skip = 1 // the open packet
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			var hdr [2]byte
			for n < want+skip {
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					break
				}
				if _, err := io.CopyN(io.Discard, br, int64(hdr[1]&0x7f)); err != nil {
					break
				}
				n++
			}
			counts <- n - skip
		}()
	}
	waitFor(b, "the subscribers", func() bool { return srv.Hub().Totals().Sessions == int64(subscribers) })
	for _, sh := range server.Shards(srv) { // their subscriptions are in place
		done := make(chan struct{})
		_ = sh.Post(func() { close(done) })
		<-done
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for {
			if _, err := srv.Hub().Publish("bench", []byte("hello")); err == nil {
				break
			}
			time.Sleep(time.Millisecond) // backlog full: the loop is behind
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(counts)
	for n := range counts {
		if n != want {
			b.Fatalf("a subscriber got %d of %d", n, want)
		}
	}
	b.ReportMetric(float64(subscribers*b.N)/elapsed.Seconds(), "deliveries/s")
}

// subscriber subscribes every Engine.IO session to the bench's topic.
type subscriber struct{ server.BuiltinHandler }

func (subscriber) OnConnect(r *server.Request) error { r.Subscribe("bench"); return nil }
