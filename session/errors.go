package session

import "errors"

var (
	// ErrClosed is returned when acting on a session or shard that is closed.
	ErrClosed = errors.New("session: closed")
	// ErrNotFound is returned when no session has the given ID.
	ErrNotFound = errors.New("session: not found")
	// ErrBacklog is returned by Send from another goroutine when the
	// session's inbox backlog is over Config.MaxInflight, and by the Hub's
	// Publish, Broadcast and SendTo when a shard's inbox holds
	// Config.MaxBacklog of publications: the client or the loop is not
	// keeping up. Nothing was sent.
	ErrBacklog = errors.New("session: backlog over the limit")
	// ErrUnavailable is wrapped by a Bus's errors when it cannot reach the
	// cluster: a publication then is refused rather than delivered on one
	// node only.
	ErrUnavailable = errors.New("session: cluster bus unavailable")
)
