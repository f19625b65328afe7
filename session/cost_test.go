package session

import (
	"runtime"
	"testing"

	"github.com/c1mhq/c1m/codec"
)

// refTransport queues publications by reference in its own wire form, as
// the WebSocket transport does, and keeps them (it is never flushed here).
type refTransport struct {
	fakeTransport
	form   int
	encode func(*Publication) []byte
	queued []*Publication
}

func (r *refTransport) WritePublication(p *Publication) error {
	p.Encoded(r.form, r.encode)
	r.queued = append(r.queued, p)
	return nil
}

// runInbox runs the shard's queued tasks without the flush that ends a
// drain: the loop has delivered the publications and not yet written them.
func runInbox(sh *Shard) {
	sh.mu.Lock()
	tasks := sh.inbox
	sh.inbox, sh.scheduled = nil, false
	sh.mu.Unlock()
	for _, fn := range tasks {
		fn()
	}
}

// TestPublicationCostCoversHeap: what publications waiting for their
// writes count in the backlog covers the heap they hold: the Publication,
// its payload, its task, and the wire forms its subscribers use, encoded
// once and shared.
//
// Not parallel: it measures the heap, which other tests would disturb.
func TestPublicationCostCoversHeap(t *testing.T) {
	const (
		pubs    = 10_000
		payload = 100
	)
	var h Hub
	sh := h.Lookup("loop", func(index int) *Shard {
		return NewShard(index, "loop", &stepExec{}, Config{MaxBacklog: -1})
	})
	envelope := func(p *Publication) []byte {
		return codec.AppendFrame(nil, codec.OpText, codec.AppendEnvelope(nil, p.Topic, p.Epoch, p.Offset, p.Data))
	}
	trs := []*refTransport{{form: 0, encode: encodeFrame}, {form: 1, encode: envelope}}
	for _, tr := range trs {
		tr.queued = make([]*Publication, 0, pubs)
		s := new(Session)
		sh.Open(s, tr)
		s.MarkOpen()
		s.Subscribe("t")
	}
	sh.delivered = make([]delivery, 0, pubs)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range pubs {
		if _, err := h.Publish("t", make([]byte, payload)); err != nil {
			t.Fatal(err)
		}
	}
	runInbox(sh)
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	charged := sh.Backlog()
	t.Logf("%d publications of %d bytes to 2 forms: %d bytes held, %d charged (%d and %d a publication)",
		pubs, payload, held, charged, held/pubs, charged/pubs)
	if charged < held {
		t.Fatalf("the backlog charges %d bytes for %d held", charged, held)
	}
	if charged > 2*held {
		t.Fatalf("the backlog charges %d bytes for %d held: more than twice", charged, held)
	}
	runtime.KeepAlive(trs)
}
