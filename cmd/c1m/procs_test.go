package main

import (
	"runtime"
	"testing"
)

// TestSpareProc: the runtime gets one P more than the loops hold, and no
// more when it has one to spare already or GOMAXPROCS is set.
func TestSpareProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	byCPU := 3 // loops 0 is one per CPU
	if runtime.NumCPU() >= 3 {
		byCPU = 4
	}
	for _, c := range []struct{ procs, loops, want int }{
		{2, 2, 3}, // as many Ps as loops: one more
		{2, 5, 3}, // more loops than Ps: still one more, not one per loop
		{4, 2, 4}, // Ps to spare already
		{3, 0, byCPU},
	} {
		runtime.GOMAXPROCS(c.procs)
		spareProc(c.loops)
		if got := runtime.GOMAXPROCS(0); got != c.want {
			t.Errorf("GOMAXPROCS %d, loops %d: now %d, want %d", c.procs, c.loops, got, c.want)
		}
	}
	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	spareProc(2)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("with GOMAXPROCS=2 in the environment: now %d, want 2", got)
	}
}
