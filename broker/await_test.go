package broker

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/c1mhq/c1m/session"
)

// TestAwaitHistory: a publisher is told its publication succeeded only
// once the history stream delivered its offset, and is told it failed when
// the history stream skipped it (NATS lost the republished copy).
func TestAwaitHistory(t *testing.T) {
	b := &Broker{log: slog.New(slog.DiscardHandler), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard
	defer cancel()
	for _, off := range []uint64{1, 2, 5} {
		b.noteDelivered(off)
	}
	if err := b.awaitHistory(ctx, 2); err != nil {
		t.Fatalf("offset 2, delivered: %v", err)
	}
	for _, off := range []uint64{3, 4} {
		if err := b.awaitHistory(ctx, off); !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("offset %d, skipped by the history stream: %v, want ErrUnavailable", off, err)
		}
	}
	got := make(chan error, 1)
	go func() { got <- b.awaitHistory(ctx, 7) }()
	b.noteDelivered(6)
	b.noteDelivered(7)
	if err := <-got; err != nil {
		t.Fatalf("offset 7, delivered later: %v", err)
	}
	short, stop := context.WithCancel(context.Background())
	stop()
	if err := b.awaitHistory(short, 8); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("offset 8, never delivered: %v, want ErrUnavailable", err)
	}
}
