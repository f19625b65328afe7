// Command c1m runs the c1m push server.
//
// This first version serves WebSocket on -listen at /ws with the default
// limits and timeouts; topics, the publish API and metrics come with the
// push-server work.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/c1mhq/c1m/server"
)

func main() {
	listen := flag.String("listen", envOr("C1M_LISTEN", ":8080"), "client listener address (env C1M_LISTEN)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))

	srv := server.New(server.BuiltinHandler{}, &server.Config{Addr: *listen})
	if err := srv.Start(); err != nil {
		slog.Error("c1m: cannot start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	slog.Info("c1m: shutting down")
	if err := srv.Shutdown(context.Background()); err != nil && err != server.ErrServerClosed {
		slog.Error("c1m: shutdown", "err", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
