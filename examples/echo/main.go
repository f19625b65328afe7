// Command echo is the shortest c1m embedding and the conformance target: it
// echoes every text and binary message back unchanged, on any path, with
// permessage-deflate when the client offers it.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// Once it listens it prints one line, "listening HOST:PORT", so a test can
// start it on port 0 and learn the port.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
)

// echo sends every message back. It runs on the event loop, where Send
// queues the copy for the write at the end of the loop's batch.
type echo struct{ server.BuiltinHandler }

func (echo) OnMessage(s *server.Session, m server.Message) { _ = s.Send(m.Op, m.Data) }

// newServer returns the echo server; tests start it in-process.
func newServer(addr string, loops int) *server.Server {
	return server.New(echo{}, &server.Config{
		Addr:           addr,
		Path:           "*",
		Loops:          loops,
		AllowedOrigins: []string{"*"},
		Compression:    &codec.DeflateConfig{},
		// Autobahn's limits cases send messages of up to 16 MiB.
		MaxFrame:    16 << 20,
		MaxMessage:  16 << 20,
		MaxOutbound: 64 << 20,
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address (port 0 picks a free one)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))

	srv := newServer(*addr, *loops)
	if err := srv.Start(); err != nil {
		slog.Error("echo: cannot start", "err", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", srv.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if err := srv.Shutdown(context.Background()); err != nil && err != server.ErrServerClosed {
		slog.Error("echo: shutdown", "err", err)
	}
}
