package session

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkPublishHistory publishes 64 bytes to topics that keep history
// and have no subscriber, from parallel goroutines, each on topics of its
// own: the cost of numbering and recording a publication, and what
// publishers of different topics wait for each other (the node's order
// lock, order.go).
func BenchmarkPublishHistory(b *testing.B) {
	h := &Hub{}
	h.SetHistory(HistoryConfig{Size: 100, MaxBytes: -1})
	payload := make([]byte, 64)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		me := next.Add(1)
		var names [8]string
		for k := range names {
			names[k] = fmt.Sprintf("t%d-%d", me, k)
		}
		i := 0
		for pb.Next() {
			if _, err := h.Publish(names[i%8], payload); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
