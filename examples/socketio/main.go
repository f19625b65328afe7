// Command socketio is the conformance target of c1m's Engine.IO and
// Socket.IO layers, and the example of embedding them. By default it
// serves Socket.IO v5 at /socket.io/ as the socket.io-protocol test
// suite's server (sio.go); -recovery adds connection state recovery.
//
//	go run ./examples/socketio -addr :3000
//
// With -engineio-echo
// it serves plain Engine.IO v4 at /engine.io/ and echoes every text and
// binary message unchanged (echo.go): the target of the engine.io-protocol
// test suite and of the engine.io-client tests.
//
//	go run ./examples/socketio -engineio-echo -addr :3000
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
	"time"

	"github.com/c1mhq/c1m/server"
)

// options are the command's flags.
type options struct {
	addr         string
	loops        int
	pingInterval time.Duration
	pingTimeout  time.Duration
	engineIOEcho bool
	recovery     bool
}

// maxPayload is the largest polling body and WebSocket message taken, as
// the conformance suites expect.
const maxPayload = 1_000_000

// baseConfig is what every mode shares: the address, CORS open to any
// origin, and a wheel tick fine enough for heartbeats of a few hundred
// milliseconds (they are checked on the tick).
func baseConfig(o options) server.Config {
	return server.Config{
		Addr:           o.addr,
		Loops:          o.loops,
		AllowedOrigins: []string{"*"},
		Transports:     []string{server.TransportWebSocket},
		Timing:         heartbeatTiming(o.pingTimeout),
	}
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", ":3000", "listen address (port 0 picks a free one)")
	flag.IntVar(&o.loops, "loops", 0, "event loops (0: one per CPU)")
	flag.DurationVar(&o.pingInterval, "ping-interval", 300*time.Millisecond, "Engine.IO pingInterval")
	flag.DurationVar(&o.pingTimeout, "ping-timeout", 200*time.Millisecond, "Engine.IO pingTimeout")
	flag.BoolVar(&o.engineIOEcho, "engineio-echo", false, "serve plain Engine.IO v4 at /engine.io/, echoing every message")
	flag.BoolVar(&o.recovery, "recovery", false, "Socket.IO connection state recovery (a pid, offsets, rooms' history)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))

	var srv *server.Server
	if o.engineIOEcho {
		srv = newEchoServer(o)
	} else {
		srv, _ = newSocketIOServer(o)
	}
	if err := srv.Start(); err != nil {
		slog.Error("socketio: cannot start", "err", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", srv.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if err := srv.Shutdown(context.Background()); err != nil && err != server.ErrServerClosed {
		slog.Error("socketio: shutdown", "err", err)
	}
}
