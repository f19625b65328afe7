package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// TestShutdownBeforeStart: Shutdown of a server that never started returns
// ErrNotStarted at once, even with a context that never ends.
func TestShutdownBeforeStart(t *testing.T) {
	t.Parallel()
	srv := server.New(nil, &server.Config{Addr: "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	select {
	case err := <-done:
		if !errors.Is(err, server.ErrNotStarted) {
			t.Fatalf("shutdown before start: %v, want ErrNotStarted", err)
		}
	case <-ctx.Done(): // a bound on a hang, not a wait
		t.Fatal("Shutdown before Start did not return")
	}
	// As with net/http, a server shut down before it started does not
	// start: a signal handled before Serve began still stops it.
	if err := srv.Start(); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("start after shutdown: %v, want ErrServerClosed", err)
	}
	if err := srv.Serve(); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("serve after shutdown: %v, want ErrServerClosed", err)
	}
	if err := srv.Shutdown(context.Background()); !errors.Is(err, server.ErrNotStarted) {
		t.Fatalf("second shutdown: %v, want ErrNotStarted", err)
	}
}

// TestStartTwice: a second Start or Serve returns ErrAlreadyStarted and
// leaves the running server alone.
func TestStartTwice(t *testing.T) {
	t.Parallel()
	srv, addr := start(t, nil, server.Config{})
	if err := srv.Start(); !errors.Is(err, server.ErrAlreadyStarted) {
		t.Fatalf("second Start: %v, want ErrAlreadyStarted", err)
	}
	if err := srv.Serve(); !errors.Is(err, server.ErrAlreadyStarted) {
		t.Fatalf("Serve after Start: %v, want ErrAlreadyStarted", err)
	}
	wstest.Upgrade(t, addr, "/ws").Echo("still serving")
}
