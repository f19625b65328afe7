package main

import (
	"context"
	"testing"
	"time"
)

// clientTimeout bounds one run of a Node client (it reports a stuck stage
// itself after 60 s).
const clientTimeout = 90 * time.Second

// startEcho runs the Engine.IO echo in-process, on a free port with two
// loops, and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	// The example's heartbeat, but for a timeout long enough for a pong
	// on a loaded machine under the race detector.
	srv := newEchoServer(options{addr: "127.0.0.1:0", loops: 2, pingInterval: 300 * time.Millisecond, pingTimeout: 2 * time.Second})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

// TestEngineIOClient: the npm engine.io-client (pinned in
// test/interop/node) echoes text and binary messages through the server
// on polling only, WebSocket only, and polling upgraded to WebSocket.
func TestEngineIOClient(t *testing.T) {
	t.Parallel()
	addr := startEcho(t)
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			t.Logf("%s", runNode(t, "eio-echo.mjs", "http://"+addr, mode))
		})
	}
}
