package broker

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/c1mhq/c1m/internal/memtest"
)

// BenchmarkKeptRevsMemory: the heap a node's KeptStore holds per socket
// it files, outside NATS: the revision it wrote last, by pid (20
// characters), which its next write is conditional on. The records
// themselves are in NATS (an in-process NATS would count them here).
func BenchmarkKeptRevsMemory(b *testing.B) {
	before := memtest.LiveHeap()
	revs := map[string]keptRev{}
	for i := range b.N {
		// Each key its own string, as the worker gets them.
		revs[fmt.Sprintf("%020d", i)] = keptRev{rev: uint64(i), conn: true}
	}
	after := memtest.LiveHeap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "heap-B/socket")
	runtime.KeepAlive(revs)
}
