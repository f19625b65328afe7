package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c1mhq/c1m/session"
)

// Broker is a node's link to the cluster: the session.Bus of its hub.
type Broker struct {
	cfg  Config
	hub  *session.Hub
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *slog.Logger
	subs []*nats.Subscription

	pubSubj, histSubj string // "<prefix>.p." and "<prefix>.h."

	linked  atomic.Bool // the streams are set up and the consumer runs
	epoch   atomic.Pointer[string]
	created time.Time // the sequencer's creation, which the epoch encodes

	// linking is held by the one link running (Start, reconnections)
	linking sync.Mutex

	// guards the fields below
	mu       sync.Mutex
	consumer jetstream.ConsumeContext
	lost     bool
	closed   bool

	// Counters for the metrics.
	delivered, skipped, asyncFailed atomic.Uint64
	kept                            atomic.Pointer[KeptStore] // KeptStore's, for LocalStats
	// highest is the sequencer offset of the last message delivered.
	highest atomic.Uint64
	// hmu guards highest's updates and the fields below (await.go).
	hmu  sync.Mutex
	tick chan struct{} // closed at the next delivery; nil: nobody waits
	gaps []gap         // recent offsets the history stream skipped

	async chan asyncPub   // PublishAsync's queue
	acks  chan pendingAck // publications sent whose publisher waits (async.go)
	done  chan struct{}   // closed by Close
	// setUp is closed once Start has set the fields above: NATS's
	// callbacks, which may run before, wait for it.
	setUp chan struct{}
}

var _ session.Bus = (*Broker)(nil)

// pendingEpoch is the epoch of topics numbered before the node first
// reached NATS (Config.Optional): positions in it are reset later.
const pendingEpoch = "pending"

// Start connects to NATS, sets up the cluster's streams, reads the history
// stream to its end into hub, links hub to the cluster (hub.SetBus) and
// serves the other nodes' requests. Call it before the server starts, so
// that no client is served a topic the node has not caught up with.
//
// NATS unreachable: Start fails with a message that says so, unless
// cfg.Optional, in which case the node starts degraded (Publish fails with
// ErrNotReady) and links up by itself when NATS comes. Safe for
// concurrent use; call it once per hub. When it fails, the hub may hold
// some of the cluster's history and a closed bus: discard it.
func Start(hub *session.Hub, cfg *Config) (*Broker, error) {
	if cfg == nil || cfg.URL == "" {
		return nil, errors.New("broker: no NATS URL")
	}
	c := cfg.withDefaults()
	b := &Broker{cfg: c, hub: hub, log: slog.Default(), done: make(chan struct{}), setUp: make(chan struct{})}
	b.pubSubj, b.histSubj = c.Prefix+".p.", c.Prefix+".h."
	pending := pendingEpoch
	b.epoch.Store(&pending)
	opts := append(c.options(),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close
			}
			b.log.Warn("broker: NATS connection lost; publications refused until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("broker: NATS connection back", "server", nc.ConnectedUrlRedacted())
			go b.relink()
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			// Only with RetryOnFailedConnect: the first connection came late.
			b.log.Info("broker: NATS reached", "server", nc.ConnectedUrlRedacted())
			go b.relink()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.log.Warn("broker: NATS error", "subject", subj, "err", err)
		}),
	)
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: NATS at %s unreachable: %w (start NATS, or let the node start without it: -nats-optional)", redact(c.URL), err)
	}
	b.nc = nc
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(asyncQueue),
		// An acknowledgement lost in a NATS restart would otherwise hold
		// its place among the pending ones for ever.
		jetstream.WithPublishAsyncTimeout(c.PublishTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			b.asyncFailed.Add(1)
			b.log.Warn("broker: a publication made on an event loop failed", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		close(b.done)
		nc.Close()
		return nil, fmt.Errorf("broker: JetStream: %w", err)
	}
	b.js = js
	b.async = make(chan asyncPub, asyncQueue)
	b.acks = make(chan pendingAck, asyncQueue)
	go b.publishQueued()
	go b.awaitAcks()
	hub.SetBus(b, pendingEpoch)
	close(b.setUp)
	if err := b.serveRequests(); err != nil {
		b.Close()
		return nil, err
	}
	if nc.IsConnected() {
		if err := b.link(); err != nil {
			if !c.Optional {
				b.Close()
				return nil, err
			}
			b.log.Warn("broker: starting degraded", "err", err)
		}
	} else {
		b.log.Warn("broker: NATS unreachable; starting degraded, publications refused until it comes", "url", redact(c.URL))
	}
	return b, nil
}

// redact drops passwords from a NATS URL list for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
				parts[i] = u[:scheme+3] + "***" + u[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// link sets up the streams, learns the epoch and starts the consumer, then
// waits until it has read the history stream to where it ended when link
// began. Called once connected (Start, relink).
func (b *Broker) link() error {
	b.linking.Lock()
	defer b.linking.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.CatchUpTimeout)
	defer cancel()
	seqCfg, histCfg := b.cfg.streams()
	// The history stream first: the sequencer republishes into it.
	hist, err := b.js.CreateOrUpdateStream(ctx, histCfg)
	if err != nil {
		return fmt.Errorf("broker: history stream %s: %w", histCfg.Name, err)
	}
	seq, err := b.js.CreateOrUpdateStream(ctx, seqCfg)
	if err != nil {
		return fmt.Errorf("broker: sequencer stream %s: %w", seqCfg.Name, err)
	}
	created := seq.CachedInfo().Created
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	if b.consumer != nil {
		// A reconnection: the ordered consumer carries on by itself. The
		// sequencer must be the one the node numbered its topics with.
		if !created.Equal(b.created) {
			b.loseLocked()
			return nil
		}
		b.linked.Store(true) // also after a first link that did not catch up in time
		return nil
	}
	b.created = created
	epoch := epochOf(created)
	b.epoch.Store(&epoch)
	b.hub.SetEpoch(epoch)

	info, err := hist.Info(ctx)
	if err != nil {
		return fmt.Errorf("broker: history stream: %w", err)
	}
	end := info.State.LastSeq
	cons, err := hist.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("broker: history consumer: %w", err)
	}
	caught := make(chan struct{})
	var once sync.Once
	if info.State.Msgs == 0 {
		// Nothing to read: never written, or every publication past its
		// age limit (the last sequence stays; no message will come).
		once.Do(func() { close(caught) })
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md := b.deliver(m)
		if md != nil && (md.Sequence.Stream >= end || md.NumPending == 0) {
			once.Do(func() { close(caught) })
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.log.Debug("broker: history consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("broker: history consumer: %w", err)
	}
	b.consumer = cc
	b.mu.Unlock()
	// What was left to read may pass its age limit before it is read:
	// the stream is looked at again every second.
	look := time.NewTicker(time.Second)
	defer look.Stop()
	for waiting := true; waiting; {
		select {
		case <-caught:
			waiting = false
		case <-look.C:
			if info, err := hist.Info(ctx); err == nil && info.State.Msgs == 0 {
				waiting = false
			}
		case <-ctx.Done():
			b.mu.Lock()
			return fmt.Errorf("broker: history stream not read to its end (message %d) within %s", end, b.cfg.CatchUpTimeout)
		}
	}
	b.mu.Lock()
	b.linked.Store(true)
	b.log.Info("broker: linked", "epoch", epoch, "history_messages", info.State.Msgs)
	return nil
}

// relink runs link again after a reconnection, or the first time with
// Config.Optional.
func (b *Broker) relink() {
	select {
	case <-b.setUp:
	case <-b.done:
		return
	}
	if err := b.link(); err != nil {
		b.log.Warn("broker: cannot link to the cluster's streams", "err", err)
	}
}

// loseLocked reports, once, that the node's numbering no longer holds.
// Called with b.mu held.
func (b *Broker) loseLocked() {
	b.linked.Store(false)
	if b.lost {
		return
	}
	b.lost = true
	b.log.Error("broker: cluster history lost", "err", ErrHistoryLost)
	if b.cfg.OnLost != nil {
		go b.cfg.OnLost(ErrHistoryLost)
	}
}

// epochOf is the epoch of a sequencer created at t: its creation time in
// base 36, 13 letters and digits, so that a recreated stream (offsets from
// 1 again) has another one.
func epochOf(t time.Time) string {
	return strconv.FormatUint(uint64(t.UnixNano()), 36)
}

// deliver hands one history message to the hub and returns its metadata
// (nil for a message no node would send, which is skipped).
func (b *Broker) deliver(m jetstream.Msg) *jetstream.MsgMetadata {
	md, err := m.Metadata()
	if err != nil {
		b.skipped.Add(1)
		return nil
	}
	subj := m.Subject()
	topic, err := decodeTopic(strings.TrimPrefix(subj, b.histSubj))
	h := m.Headers()
	off, err1 := strconv.ParseUint(h.Get(jetstream.SequenceHeader), 10, 64)
	prev, err2 := strconv.ParseUint(h.Get(lastSequenceHeader), 10, 64)
	if err != nil || err1 != nil || err2 != nil || !strings.HasPrefix(subj, b.histSubj) {
		b.skipped.Add(1)
		return md
	}
	b.hub.Deliver(topic, off, prev, m.Data(), md.Timestamp)
	b.delivered.Add(1)
	b.noteDelivered(off)
	return md
}

// lastSequenceHeader is the republished message's header naming the
// sequence of the previous message of its subject (0 for none).
const lastSequenceHeader = "Nats-Last-Sequence"

// Epoch returns the cluster's epoch, "pending" before the node first
// reached NATS. Safe for concurrent use.
func (b *Broker) Epoch() string { return *b.epoch.Load() }

// Ready returns nil when the node is linked to the cluster, else why not
// (ErrNotReady, ErrDisconnected, ErrHistoryLost). Safe for concurrent use.
func (b *Broker) Ready() error {
	switch {
	case !b.nc.IsConnected():
		return ErrDisconnected
	case !b.linked.Load():
		b.mu.Lock()
		lost := b.lost
		b.mu.Unlock()
		if lost {
			return ErrHistoryLost
		}
		return ErrNotReady
	}
	return nil
}

// Publish publishes data to topic ("" for a broadcast) through the
// sequencer and returns its offset once the node has read it back from the
// history stream: the sequencer's acknowledgement alone does not prove the
// history stream got its copy (NATS stopping in between loses it). Safe
// for concurrent use.
func (b *Broker) Publish(topic string, data []byte) (uint64, error) {
	if err := b.Ready(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.PublishTimeout)
	defer cancel()
	ack, err := b.js.Publish(ctx, b.pubSubj+encodeTopic(topic), data)
	if err != nil {
		if !b.nc.IsConnected() {
			return 0, ErrDisconnected
		}
		return 0, fmt.Errorf("broker: publish: %w: %w", err, session.ErrUnavailable)
	}
	if err := b.awaitHistory(ctx, ack.Sequence); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// Close stops the consumer and the request handlers and closes the NATS
// connection. Safe for concurrent use.
func (b *Broker) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.done)
	cc := b.consumer
	b.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
	for _, s := range b.subs {
		_ = s.Unsubscribe()
	}
	b.linked.Store(false)
	b.nc.Close()
}

// Conn returns the node's NATS connection. Safe for concurrent use.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// NodeID returns the node's name in the cluster. Safe for concurrent use.
func (b *Broker) NodeID() string { return b.cfg.NodeID }
