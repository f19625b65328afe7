package broker

import (
	"errors"
	"fmt"

	"github.com/c1mhq/c1m/session"
)

var (
	// ErrDisconnected is returned by Publish while the node has no
	// connection to NATS. It wraps session.ErrUnavailable.
	ErrDisconnected = fmt.Errorf("broker: NATS connection lost: %w", session.ErrUnavailable)
	// ErrNotReady is returned by Publish before the node has reached NATS
	// once and set up its streams (with Config.Optional). It wraps
	// session.ErrUnavailable.
	ErrNotReady = fmt.Errorf("broker: not connected to NATS yet: %w", session.ErrUnavailable)
	// ErrHistoryLost is what Config.OnLost is told when the sequencer stream
	// was recreated (NATS lost its storage): the cluster's offsets started
	// again, and the node's epoch no longer holds. It wraps
	// session.ErrUnavailable.
	ErrHistoryLost = fmt.Errorf("broker: the cluster's stream was recreated: offsets started again: %w", session.ErrUnavailable)
	// ErrBadSubject is returned by the subject decoder for a subject that no
	// c1m node would send.
	ErrBadSubject = errors.New("broker: malformed subject")
)
