package main

import (
	"strings"
	"testing"
	"time"
)

// TestNote: a client's publications must follow one another after its
// first; a skipped one is a gap, one again or out of order a duplicate.
func TestNote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		seqs       []uint64
		gaps, dups int64
		last       uint64
	}{
		{"in order from the middle", []uint64{7, 8, 9}, 0, 0, 9},
		{"one skipped", []uint64{1, 2, 4}, 1, 0, 4},
		{"three skipped", []uint64{1, 5}, 3, 0, 5},
		{"again", []uint64{1, 2, 2, 3}, 0, 1, 3},
		{"back", []uint64{5, 6, 4, 7}, 0, 1, 7},
	} {
		var cl steadyClient
		var st workerStatus
		for _, s := range tc.seqs {
			cl.note(s, &st)
		}
		if st.Gaps != tc.gaps || st.Dups != tc.dups || cl.last != tc.last {
			t.Errorf("%s: gaps %d dups %d last %d, want %d %d %d", tc.name, st.Gaps, st.Dups, cl.last, tc.gaps, tc.dups, tc.last)
		}
	}
}

// samples returns n samples 10 s apart whose heap follows heap(i), the
// rest steady.
func samples(n int, heap func(i int) int64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = Sample{At: float64(10 * i), Heap: heap(i), RSS: 100 << 20, Goroutines: 14, FDs: 19000}
	}
	return out
}

// TestJudge: a run passes when nothing grows after the warm-up and no
// well-behaved client lost anything; growth, a gap, a dropped client or
// a client behind fails it, each with its reason.
func TestJudge(t *testing.T) {
	t.Parallel()
	steady := func(i int) int64 { return 50 << 20 }
	warming := func(i int) int64 { // grows during the warm-up only
		return int64(min(i, 12)) * 4 << 20
	}
	leaking := func(i int) int64 { return 50<<20 + int64(i)*(1<<20) } // 1 MiB per sample
	good := []workerStatus{{Role: roleSteady}, {Role: roleChurn, Errors: 3}}
	for _, tc := range []struct {
		name    string
		samples []Sample
		workers []workerStatus
		want    string // "" passes; else a failure contains it
	}{
		{"steady", samples(60, steady), good, ""},
		{"growth in the warm-up only", samples(60, warming), good, ""},
		{"heap leak", samples(60, leaking), good, "heap grew"},
		{"gap", samples(60, steady), []workerStatus{{Role: roleSteady, Gaps: 1}}, "lost publications"},
		{"dropped", samples(60, steady), []workerStatus{{Role: roleSteady, Dropped: 1}}, "lost publications"},
		{"behind", samples(60, steady), []workerStatus{{Role: roleSteady, Behind: 2}}, "lost publications"},
		{"too short", samples(3, steady), good, "too few"},
	} {
		r := result{Final: 100, Samples: tc.samples, Workers: tc.workers}
		r.judge(2 * time.Minute)
		got := strings.Join(r.Failures, "; ")
		if tc.want == "" && !r.OK || tc.want != "" && (r.OK || !strings.Contains(got, tc.want)) {
			t.Errorf("%s: ok %v, failures %q; want %q", tc.name, r.OK, got, tc.want)
		}
	}
}
