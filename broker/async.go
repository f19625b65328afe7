package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c1mhq/c1m/session"
)

// asyncQueue bounds the publications made on event loops that wait for
// the publishing goroutine, and those it has sent without an answer yet:
// past it PublishAsync refuses (session.ErrBacklog) rather than make a
// loop wait.
const asyncQueue = 4096

// asyncPub is a publication made on an event loop, queued for NATS.
type asyncPub struct {
	subject string
	data    []byte
	done    func(uint64, error) // nil: nobody waits for its fate
	at      time.Time           // when it was queued
}

// pendingAck is a publication sent to NATS whose publisher waits for its
// fate: done is told by deadline (Config.PublishTimeout after it was
// queued) at the latest.
type pendingAck struct {
	fut      jetstream.PubAckFuture
	done     func(uint64, error)
	deadline time.Time
}

// PublishAsync queues a publication for the publishing goroutine and
// returns at once: an event loop never waits for NATS. When done is not
// nil it is called once, on the broker's goroutine, with what Publish
// would have answered: the offset once the node has read the publication
// back from the history stream, or the error (wrapping
// session.ErrUnavailable) when the sequencer refused it, did not answer
// within Config.PublishTimeout, or NATS lost its copy in the history
// stream. done must not wait. A failure of a publication without done is
// logged and counted. Safe for concurrent use.
func (b *Broker) PublishAsync(topic string, data []byte, done func(offset uint64, err error)) error {
	if err := b.Ready(); err != nil {
		return err
	}
	select {
	case b.async <- asyncPub{b.pubSubj + encodeTopic(topic), data, done, time.Now()}:
		return nil
	default:
		return session.ErrBacklog
	}
}

// publishQueued sends the publications queued by PublishAsync, in their
// order, until the broker closes, and hands those whose publisher waits
// to awaitAcks.
func (b *Broker) publishQueued() {
	for {
		select {
		case p := <-b.async:
			fut, err := b.js.PublishAsync(p.subject, p.data)
			if err != nil {
				b.asyncFailed.Add(1)
				if p.done != nil {
					// The publisher is told; the log would only repeat it.
					p.done(0, fmt.Errorf("broker: publish: %w: %w", err, session.ErrUnavailable))
					continue
				}
				b.log.Warn("broker: a publication made on an event loop failed", "subject", p.subject, "err", err)
				continue
			}
			if p.done == nil {
				continue
			}
			select {
			case b.acks <- pendingAck{fut, p.done, p.at.Add(b.cfg.PublishTimeout)}:
			case <-b.done:
				p.done(0, errClosed)
				return
			}
		case <-b.done:
			return
		}
	}
}

// errClosed is what a publisher waiting for its publication's fate is
// told when the broker closes first.
var errClosed = fmt.Errorf("broker: closed: %w", session.ErrUnavailable)

// awaitAcks tells each waiting publisher, in the order of publication,
// the fate of its publication, until the broker closes; then it tells
// those still waiting that it closed. One goroutine is enough: the
// history stream delivers in the order the sequencer numbered, which is
// the order of publication on the node's one connection, so the first
// pending publication is the one to wait for.
func (b *Broker) awaitAcks() {
	for {
		select {
		case a := <-b.acks:
			a.done(b.awaitAck(a))
		case <-b.done:
			for {
				select {
				case a := <-b.acks:
					a.done(0, errClosed)
				default:
					return
				}
			}
		}
	}
}

// awaitAck waits for a's acknowledgement and then for the node to read
// the publication back from the history stream, as Publish does.
func (b *Broker) awaitAck(a pendingAck) (uint64, error) {
	ctx, cancel := context.WithDeadline(context.Background(), a.deadline)
	defer cancel()
	var ack *jetstream.PubAck
	select {
	case ack = <-a.fut.Ok():
	case err := <-a.fut.Err():
		return 0, fmt.Errorf("broker: publish: %w: %w", err, session.ErrUnavailable)
	default:
		select {
		case ack = <-a.fut.Ok():
		case err := <-a.fut.Err():
			return 0, fmt.Errorf("broker: publish: %w: %w", err, session.ErrUnavailable)
		case <-ctx.Done():
			return 0, fmt.Errorf("broker: publication not acknowledged: %w: %w", ctx.Err(), session.ErrUnavailable)
		case <-b.done:
			return 0, errClosed
		}
	}
	if err := b.awaitHistory(ctx, ack.Sequence); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}
