package main

import (
	"strings"
	"testing"
)

// roomy is a machine that holds a million connections: 22 GiB available,
// enough files, the default port range, somaxconn 4096, 20,000 files per
// process (the measuring machine).
var roomy = machine{
	MemAvailable: 22 << 30, FileMax: 2_466_186, FilesOpen: 5000,
	PortLo: 32768, PortHi: 60999, Somaxconn: 4096, NoFile: 20000,
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	million := plan{conns: 1_000_000, nodes: autoNodes(1_000_000, roomy), workers: 51, perSource: 1000}
	cases := []struct {
		name   string
		p      plan
		m      func(machine) machine
		reason string // "" when the run may go
	}{
		{"a million fits", million, nil, ""},
		{"small run", plan{conns: 50000, nodes: 3, workers: 3, perSource: 1000}, nil, ""},
		{"memory just short", million, func(m machine) machine {
			m.MemAvailable = int64(float64(million.memoryNeed())/memHeadroom) - 1<<20
			return m
		}, "memory:"},
		{"memory just enough", million, func(m machine) machine {
			m.MemAvailable = int64(float64(million.memoryNeed())/memHeadroom) + 1<<20
			return m
		}, ""},
		{"file-max", million, func(m machine) machine { m.FileMax = 1_048_576; return m }, "open files:"},
		{"files taken by others", million, func(m machine) machine { m.FilesOpen = 600_000; return m }, "open files:"},
		{"port range", plan{conns: 50000, nodes: 3, workers: 3, perSource: 20000}, nil, "ephemeral ports:"},
		{"somaxconn", million, func(m machine) machine { m.Somaxconn = 128; return m }, "somaxconn"},
		{"too few nodes", plan{conns: 1_000_000, nodes: 52, workers: 51, perSource: 1000}, nil, "use -nodes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := roomy
			if c.m != nil {
				m = c.m(m)
			}
			err := preflight(c.p, m)
			switch {
			case c.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.reason != "" && err == nil:
				t.Fatalf("not refused, want a reason with %q", c.reason)
			case c.reason != "" && !strings.Contains(err.Error(), c.reason):
				t.Fatalf("refused with %v, want a reason with %q", err, c.reason)
			}
		})
	}
}

// TestAutoNodes: the fewest nodes whose busiest one stays under what a
// process with 20,000 files takes (19,488 clients: less the reserve of
// 1/64, 312, and 1%, 200).
func TestAutoNodes(t *testing.T) {
	t.Parallel()
	if got := nodeCap(20000); got != 19488 {
		t.Fatalf("nodeCap(20000) = %d, want 19488", got)
	}
	n := autoNodes(1_000_000, roomy)
	if busiestNode(1_000_000, n) > 19488 || busiestNode(1_000_000, n-1) <= 19488 {
		t.Fatalf("autoNodes = %d: busiest %d, with one less %d", n, busiestNode(1_000_000, n), busiestNode(1_000_000, n-1))
	}
	t.Logf("1,000,000 clients: %d nodes, the busiest planned at %d", n, busiestNode(1_000_000, n))
}
