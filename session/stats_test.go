package session

import (
	"slices"
	"testing"
	"time"
)

// TestHistogramOtherBuckets: a program may set its own LatencyBuckets
// before it starts: a histogram counts in as many buckets as it finds
// then, and keeps those once in use.
//
// Not parallel: it replaces LatencyBuckets, which every histogram reads
// when it is first used.
func TestHistogramOtherBuckets(t *testing.T) {
	saved := LatencyBuckets
	t.Cleanup(func() { LatencyBuckets = saved })
	for _, n := range []int{1, len(saved) + 5} {
		buckets := make([]time.Duration, n)
		for i := range buckets {
			buckets[i] = time.Duration(i+1) * time.Millisecond
		}
		LatencyBuckets = buckets
		var h Histogram
		h.Observe(time.Hour)
		h.Observe(time.Millisecond)
		LatencyBuckets = saved // later changes do not touch a histogram in use
		h.Observe(time.Hour)
		counts, sum := h.Snapshot()
		if len(counts) != n+1 || counts[0] != 1 || counts[n] != 2 {
			t.Fatalf("%d buckets: counts %v, want %d counts, 1 in the first and 2 in the last", n, counts, n+1)
		}
		if !slices.Equal(h.Bounds(), buckets) {
			t.Fatalf("%d buckets: bounds %v, want %v", n, h.Bounds(), buckets)
		}
		if want := 2*time.Hour + time.Millisecond; sum != want {
			t.Fatalf("sum %v, want %v", sum, want)
		}
	}
}
