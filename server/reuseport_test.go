package server

import (
	"errors"
	"testing"
)

// TestReusePortNeedsFixedPort: no other process could share a port 0
// resolved at start, so Start refuses ReusePort on it before binding
// anything.
func TestReusePortNeedsFixedPort(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:0", ":0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			srv := New(nil, &Config{Addr: addr, ReusePort: true, Loops: 2})
			if err := srv.Start(); !errors.Is(err, ErrReusePortZero) {
				t.Fatalf("Start with ReusePort on %s: %v, want ErrReusePortZero", addr, err)
			}
		})
	}
}
