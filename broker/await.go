package broker

import (
	"context"
	"fmt"

	"github.com/c1mhq/c1m/session"
)

// maxGaps bounds the gaps of the history stream a node remembers: a
// publisher waits for its offset only for PublishTimeout, so only recent
// gaps matter.
const maxGaps = 64

// gap is a run of sequencer offsets, first to last, that the history
// stream skipped: their republished copies were lost (NATS stopped after
// the sequencer stored and acknowledged them but before the history stream
// stored the copies), or aged out before the node read them.
type gap struct{ first, last uint64 }

// noteDelivered records that the message of offset off was delivered,
// with the gap before it if there is one, and wakes the publishers waiting
// for an offset. Called on the consumer's goroutine.
func (b *Broker) noteDelivered(off uint64) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	h := b.highest.Load()
	if off <= h {
		return
	}
	if h != 0 && off > h+1 {
		if len(b.gaps) == maxGaps {
			b.gaps = append(b.gaps[:0], b.gaps[1:]...)
		}
		b.gaps = append(b.gaps, gap{h + 1, off - 1})
		b.log.Warn("broker: the history stream lacks publications the sequencer stored", "first", h+1, "last", off-1)
	}
	b.highest.Store(off)
	if b.tick != nil {
		close(b.tick)
		b.tick = nil
	}
}

// awaitHistory waits until the node has delivered the publication of
// offset off from the history stream, so that a publisher is told a
// publication succeeded only once the cluster's clients can get it. It
// fails when the history stream skipped off, or ctx ends first.
func (b *Broker) awaitHistory(ctx context.Context, off uint64) error {
	for {
		b.hmu.Lock()
		if b.highest.Load() >= off {
			lost := false
			for _, g := range b.gaps {
				if g.first <= off && off <= g.last {
					lost = true
				}
			}
			b.hmu.Unlock()
			if lost {
				return fmt.Errorf("broker: publication %d was stored but NATS lost its copy in the history stream: %w", off, session.ErrUnavailable)
			}
			return nil
		}
		if b.tick == nil {
			b.tick = make(chan struct{})
		}
		tick := b.tick
		b.hmu.Unlock()
		select {
		case <-tick:
		case <-ctx.Done():
			return fmt.Errorf("broker: publication %d not seen in the history stream: %w: %w", off, ctx.Err(), session.ErrUnavailable)
		case <-b.done:
			return fmt.Errorf("broker: closed: %w", session.ErrUnavailable)
		}
	}
}
