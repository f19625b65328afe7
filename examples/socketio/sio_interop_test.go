package main

import (
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/nodetest"
)

// runNode runs a Node script of test/interop/node with args and returns
// its report (the last line), failing the test when the script does.
func runNode(t *testing.T, script string, args ...string) string {
	t.Helper()
	return nodetest.Run(t, "../..", script, clientTimeout, args...)
}

// TestSocketIOClient: the npm socket.io-client (pinned in
// test/interop/node) against the conformance server on polling only,
// WebSocket only and polling upgraded to WebSocket: events, binary, acks
// both ways, namespaces, an unknown namespace, rooms, server-side and
// client-side disconnects (sio-example.mjs).
func TestSocketIOClient(t *testing.T) {
	t.Parallel()
	srv, _ := startSocketIO(t, options{pingInterval: 300 * time.Millisecond, pingTimeout: 5 * time.Second})
	for _, mode := range []string{"polling", "websocket", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			t.Logf("%s", runNode(t, "sio-example.mjs", "http://"+srv.Addr().String(), mode))
		})
	}
}
