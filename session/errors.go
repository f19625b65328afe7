package session

import "errors"

var (
	// ErrClosed is returned when acting on a session or shard that is closed.
	ErrClosed = errors.New("session: closed")
	// ErrNotFound is returned when no session has the given ID.
	ErrNotFound = errors.New("session: not found")
	// ErrBacklog is returned by Send from another goroutine when the
	// session's inbox backlog is over Config.MaxInflight: the client or its
	// loop is not keeping up.
	ErrBacklog = errors.New("session: send backlog over the limit")
)
