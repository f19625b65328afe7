package server

import "testing"

func TestCapacityFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		cfg                   Config
		files, somaxconn      int
		wantBacklog, wantConn int
	}{
		// 20,000 files: 1/64 (312) and 1% (200) kept free; the backlog is
		// left as gnet listens (somaxconn).
		{"this machine", Config{}, 20_000, 4096, 0, 19_488},
		// A tuned host: 1/64 at its upper bound, 1%.
		{"tuned host", Config{}, 1_100_000, 4096, 0, 1_100_000 - 4096 - 11_000},
		{"huge host", Config{}, 4_000_000, 4096, 0, 4_000_000 - 4096 - 16_384},
		{"somaxconn lower", Config{}, 1_100_000, 1000, 0, 1_100_000 - 4096 - 11_000},
		{"somaxconn unknown", Config{}, 20_000, 0, 0, 19_488},
		// An explicit backlog is kept at most somaxconn, and leaves the
		// cap alone.
		{"explicit backlog", Config{Backlog: 50}, 20_000, 4096, 50, 19_488},
		{"explicit backlog over somaxconn", Config{Backlog: 9000}, 20_000, 4096, 4096, 19_488},
		{"explicit cap below", Config{MaxConns: 1000}, 20_000, 4096, 0, 1000},
		{"explicit cap above is lowered", Config{MaxConns: 1 << 30}, 20_000, 4096, 0, 19_488},
		// A tiny limit keeps half for connections.
		{"tiny limit", Config{}, 300, 4096, 0, 300 - 75 - 64},
		{"default soft limit", Config{}, 1024, 4096, 0, 1024 - 128 - 64},
		// Many loops: their own descriptors (3 each) come on top of 128,
		// within a quarter of the limit.
		{"many loops", Config{Loops: 64}, 20_000, 4096, 0, 20_000 - (128 + 3*64) - 200},
		{"many loops, small limit", Config{Loops: 64}, 1024, 4096, 0, 1024 - 256 - 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := capacityFor(&tc.cfg, tc.files, tc.somaxconn)
			if c.backlog != tc.wantBacklog || c.maxConns != tc.wantConn {
				t.Fatalf("backlog %d, max conns %d; want %d and %d", c.backlog, c.maxConns, tc.wantBacklog, tc.wantConn)
			}
		})
	}
}
