// Package memtest measures the heap for the memory tests and benchmarks.
package memtest

import "runtime"

// LiveHeap returns the heap in use after two collections: the first
// frees what is garbage, the second what only sync.Pools still held. Safe
// for concurrent use, though a measurement means something only while
// nothing else allocates.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
