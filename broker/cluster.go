package broker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/c1mhq/c1m/session"
)

// Control subjects, under the prefix: "<prefix>.sid.<id>" reaches the node
// that holds session id with a message for the session's client,
// "<prefix>.in.<id>" with a message from it (Forward);
// "<prefix>.ctl.stats" and "<prefix>.ctl.presence" are asked of every
// node, each of which answers.
const (
	sidToken      = ".sid."
	inboundToken  = ".in."
	statsSubject  = ".ctl.stats"
	presenceToken = ".ctl.presence"
)

// Answers of a cross-node send.
const (
	sendOK     = "ok"
	sendClosed = "closed"
)

// gatherQuiet is how long a cluster view waits after the last answer for
// more: the nodes answer within a loopback round trip or two, so 100 ms
// of silence means they all did (or the rest are too slow to count).
const gatherQuiet = 100 * time.Millisecond

// serveRequests subscribes to the subjects other nodes ask this one on.
func (b *Broker) serveRequests() error {
	p := b.cfg.Prefix
	handlers := map[string]nats.MsgHandler{
		p + sidToken + "*":     b.serveSend,
		p + inboundToken + "*": b.serveInbound,
		p + statsSubject:       b.serveStats,
		p + presenceToken:      b.servePresence,
	}
	for subj, h := range handlers {
		s, err := b.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("broker: subscribe %s: %w", subj, err)
		}
		b.subs = append(b.subs, s)
	}
	return nil
}

// serveSend delivers a cross-node send to a session of this node, and
// answers only when the session is here: the asker's timeout means no node
// has it.
func (b *Broker) serveSend(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 10, 64)
	if err != nil {
		return
	}
	switch err := b.hub.SendToLocal(id, m.Data); {
	case err == nil:
		_ = m.Respond([]byte(sendOK))
	case errors.Is(err, session.ErrNotFound):
	default:
		_ = m.Respond([]byte(sendClosed))
	}
}

// SendTo sends data to session id on the node that holds it: ErrNotFound
// when no node answers within Config.RequestTimeout, session.ErrClosed
// when the session is closing there. Safe for concurrent use.
func (b *Broker) SendTo(id uint64, data []byte) error {
	if !b.nc.IsConnected() {
		return ErrDisconnected
	}
	reply, err := b.nc.Request(b.cfg.Prefix+sidToken+strconv.FormatUint(id, 10), data, b.cfg.RequestTimeout)
	switch {
	case errors.Is(err, nats.ErrTimeout):
		return session.ErrNotFound
	case err != nil:
		return fmt.Errorf("broker: send: %w: %w", err, session.ErrUnavailable)
	case string(reply.Data) != sendOK:
		return session.ErrClosed
	}
	return nil
}

// sidHeader carries, in a forwarded client message, the session id as the
// client named it (with its secret, which the holding node checks).
const sidHeader = "C1m-Sid"

// serveInbound hands a client's message that reached another node to the
// session of this node it names (session.Hub.Inbound), and answers only
// when the session is here, as serveSend does. The answer comes from the
// session's event loop, which must not wait for NATS (a publish can block
// while nats.go flushes a full buffer): it is sent from a goroutine of
// its own.
func (b *Broker) serveInbound(m *nats.Msg) {
	b.hub.Inbound(m.Header.Get(sidHeader), m.Data, func(err error) {
		switch {
		case err == nil:
			go func() { _ = m.Respond([]byte(sendOK)) }()
		case errors.Is(err, session.ErrNotFound):
		default:
			go func() { _ = m.Respond([]byte(sendClosed)) }()
		}
	})
}

// Forward hands a client's message for session id (sid, as the client
// named it) to the node that holds the session (session.Bus.Forward):
// session.ErrNotFound when no node answers within Config.RequestTimeout,
// session.ErrClosed when that node refused it. Safe for concurrent use;
// it waits for the answer.
func (b *Broker) Forward(id uint64, sid string, data []byte) error {
	if !b.nc.IsConnected() {
		return ErrDisconnected
	}
	m := nats.NewMsg(b.cfg.Prefix + inboundToken + strconv.FormatUint(id, 10))
	m.Header.Set(sidHeader, sid)
	m.Data = data
	reply, err := b.nc.RequestMsg(m, b.cfg.RequestTimeout)
	switch {
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders):
		return session.ErrNotFound
	case err != nil:
		return fmt.Errorf("broker: forward: %w: %w", err, session.ErrUnavailable)
	case string(reply.Data) != sendOK:
		return session.ErrClosed
	}
	return nil
}

// NodeStats are one node's figures in a cluster view.
type NodeStats struct {
	Node        string `json:"node"`
	Connections int64  `json:"connections"`
	Sessions    int64  `json:"sessions"`
	Topics      int    `json:"topics"`
	// Offset is the newest offset the node has delivered from the bus.
	Offset uint64 `json:"offset"`
	Ready  bool   `json:"ready"`
	// Kept are the counters of the node's store of Socket.IO recovery
	// records (KeptStore), when it has one.
	Kept *KeptStats `json:"socketio_kept,omitempty"`
}

// LocalStats returns this node's figures. Safe for concurrent use.
func (b *Broker) LocalStats() NodeStats {
	tot := b.hub.Totals()
	st := NodeStats{
		Node: b.cfg.NodeID, Connections: tot.Connections, Sessions: tot.Sessions,
		Topics: b.hub.History().Topics, Offset: b.highest.Load(), Ready: b.Ready() == nil,
	}
	if k := b.kept.Load(); k != nil {
		ks := k.Stats()
		st.Kept = &ks
	}
	return st
}

func (b *Broker) serveStats(m *nats.Msg) {
	if out, err := json.Marshal(b.LocalStats()); err == nil {
		_ = m.Respond(out)
	}
}

// NodePresence is one node's subscriber count of a topic.
type NodePresence struct {
	Node        string `json:"node"`
	Subscribers int64  `json:"subscribers"`
}

func (b *Broker) servePresence(m *nats.Msg) {
	topic := string(m.Data)
	out, err := json.Marshal(NodePresence{Node: b.cfg.NodeID, Subscribers: b.hub.Presence(topic)})
	if err == nil {
		_ = m.Respond(out)
	}
}

// ClusterStats asks every node for its figures, this one included, and
// returns the answers that came within Config.RequestTimeout, sorted by
// node. Safe for concurrent use.
func (b *Broker) ClusterStats(ctx context.Context) ([]NodeStats, error) {
	var out []NodeStats
	err := b.gather(ctx, b.cfg.Prefix+statsSubject, nil, func(data []byte) {
		var st NodeStats
		if json.Unmarshal(data, &st) == nil {
			out = append(out, st)
		}
	})
	slices.SortFunc(out, func(x, y NodeStats) int { return cmp.Compare(x.Node, y.Node) })
	return out, err
}

// ClusterPresence asks every node how many of its sessions subscribe to
// topic and returns the answers, sorted by node, and their sum. Safe for
// concurrent use.
func (b *Broker) ClusterPresence(ctx context.Context, topic string) ([]NodePresence, int64, error) {
	var out []NodePresence
	var sum int64
	err := b.gather(ctx, b.cfg.Prefix+presenceToken, []byte(topic), func(data []byte) {
		var p NodePresence
		if json.Unmarshal(data, &p) == nil {
			out = append(out, p)
			sum += p.Subscribers
		}
	})
	slices.SortFunc(out, func(x, y NodePresence) int { return cmp.Compare(x.Node, y.Node) })
	return out, sum, err
}

// gather sends a request to every node and hands each answer to fn (on the
// calling goroutine) until gatherQuiet passes without one, the request
// timeout passes, or ctx ends.
func (b *Broker) gather(ctx context.Context, subj string, data []byte, fn func([]byte)) error {
	if !b.nc.IsConnected() {
		return ErrDisconnected
	}
	inbox := b.nc.NewInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("broker: %w: %w", err, session.ErrUnavailable)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.nc.PublishRequest(subj, inbox, data); err != nil {
		return fmt.Errorf("broker: %w: %w", err, session.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
	defer cancel()
	wait := b.cfg.RequestTimeout // the first answer may take a while
	for {
		wctx, wcancel := context.WithTimeout(ctx, wait)
		m, err := sub.NextMsgWithContext(wctx)
		wcancel()
		if err != nil {
			return nil // quiet, or out of time: what came is the answer
		}
		fn(m.Data)
		wait = gatherQuiet
	}
}
