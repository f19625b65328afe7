package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// The HTTP transports (PROTOCOL.md, "Without WebSocket") are tested on a
// push server in this process, not on examples/echo: the test publishes
// through the server's Hub at the moment a client says it is subscribed,
// and drops sessions server-side to make clients reconnect. The race
// detector of `go test -race` then covers the server too.

// pushHistory is what each topic keeps: more than any test publishes, so
// that every resume in these tests is served from history.
const pushHistory = 1000

// pushShutdown bounds the server's shutdown in cleanup. Browsers and
// scripts are gone by then; a keep-alive connection they left is dropped.
const pushShutdown = 5 * time.Second

// startPush runs a push server (server.Push: topics from topic=, commands
// as on WebSocket) on a free loopback port for the test's lifetime, with
// cfg's pages and poll settings, history, JSONP and the envelope
// subprotocol. It returns the server and its base URL,
// http://127.0.0.1:PORT.
func startPush(t *testing.T, cfg server.Config) (*server.Server, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.History = session.HistoryConfig{Size: pushHistory}
	cfg.JSONP = true
	// WebSocket clients that offer it get envelopes, with offsets, as on
	// the c1m binary.
	cfg.Protocols = []string{codec.EnvelopeProtocol}
	// Close every session at once on shutdown: the default spreads the
	// close frames over seconds, for real clients.
	cfg.DrainSpread = -1
	cfg.DrainTimeout = pushShutdown / 2
	srv := server.New(server.NewPush(nil), &cfg)
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), pushShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && err != server.ErrServerClosed {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv, "http://" + srv.Addr().String()
}

// publication returns the payload of publication i (from 1) of a test:
// text with 2- to 4-byte UTF-8, JSON and HTML specials (a forever iframe
// and JSONP carry it inside a script), and every tenth one binary, which
// the JSON transports carry as data_b64. Clients rebuild the same sequence
// (node/publications.mjs, browser/transports.html) and compare.
func publication(i int) []byte {
	if i%10 == 0 {
		return []byte{byte(i), 0xff, 0, 0xfe, byte(i >> 8)}
	}
	return fmt.Appendf(nil, "#%d héllo ✓ 😀 \"q\" \\ </script> <!-- & \u2028\n", i)
}

// publish publishes publications from..to (inclusive) to topic and checks
// that each got the next offset: the clients check offsets against the
// same numbers.
func publish(t *testing.T, srv *server.Server, topic string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		off, err := srv.Hub().Publish(topic, publication(i))
		if err != nil {
			t.Fatalf("publish %d to %s: %v", i, topic, err)
		}
		if off != uint64(i) {
			t.Fatalf("publication %d to %s got offset %d", i, topic, off)
		}
	}
}

// dropSessions ends every open session of srv from the server's side, as
// a restart or a proxy would: a stream's response ends and its connection
// closes. It returns how many it closed, once every loop has done so.
func dropSessions(t *testing.T, srv *server.Server) int {
	t.Helper()
	shards := shardsOf(srv)
	counts := make(chan int, len(shards))
	for _, sh := range shards {
		err := sh.Post(func() {
			n := 0
			sh.Each(func(s *session.Session) bool {
				_ = s.Close(codec.StatusGoingAway, "test drops it")
				n++
				return true
			})
			counts <- n
		})
		if err != nil {
			t.Fatalf("posting to shard %d: %v", sh.Index(), err)
		}
	}
	total := 0
	for range shards {
		total += <-counts
	}
	return total
}

// openSessions returns how many sessions of srv are open (streams,
// WebSockets, held polls; not connections between two requests).
func openSessions(t *testing.T, srv *server.Server) int {
	t.Helper()
	shards := shardsOf(srv)
	counts := make(chan int, len(shards))
	for _, sh := range shards {
		err := sh.Post(func() {
			n := 0
			sh.Each(func(*session.Session) bool { n++; return true })
			counts <- n
		})
		if err != nil {
			t.Fatalf("posting to shard %d: %v", sh.Index(), err)
		}
	}
	total := 0
	for range shards {
		total += <-counts
	}
	return total
}

// shardsOf returns srv's shards, which the embedding API (server.Hub)
// leaves out: the tests act on the loops through the machinery.
func shardsOf(srv *server.Server) []*session.Shard {
	return (*session.Hub)(srv.Hub()).Shards()
}
