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
		// 20,000 files: backlog 1/64 (312), reserve 1% (200).
		{"this machine", Config{}, 20_000, 4096, 312, 19_488},
		// A tuned host: the backlog at its upper bound, the reserve 1%.
		{"tuned host", Config{}, 1_100_000, 4096, 4096, 1_100_000 - 4096 - 11_000},
		{"huge host", Config{}, 4_000_000, 4096, 4096, 4_000_000 - 4096 - 16_384},
		{"somaxconn lower", Config{}, 1_100_000, 1000, 1000, 1_100_000 - 1000 - 11_000},
		{"explicit backlog", Config{Backlog: 50}, 20_000, 4096, 50, 20_000 - 50 - 200},
		{"explicit cap below", Config{MaxConns: 1000}, 20_000, 4096, 312, 1000},
		{"explicit cap above is lowered", Config{MaxConns: 1 << 30}, 20_000, 4096, 312, 19_488},
		// A tiny limit keeps half for connections.
		{"tiny limit", Config{}, 300, 4096, 75, 300 - 75 - 64},
		{"default soft limit", Config{}, 1024, 4096, 128, 1024 - 128 - 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := capacityFor(&tc.cfg, tc.files, tc.somaxconn)
			if c.backlog != tc.wantBacklog || c.maxConns != tc.wantConn {
				t.Fatalf("backlog %d, max conns %d; want %d and %d", c.backlog, c.maxConns, tc.wantBacklog, tc.wantConn)
			}
			if c.maxConns+c.backlog >= tc.files {
				t.Fatalf("%d connections and a backlog of %d leave nothing of %d files", c.maxConns, c.backlog, tc.files)
			}
		})
	}
}
