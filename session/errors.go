package session

import "errors"

var (
	// ErrClosed is returned when acting on a session or shard that is closed.
	ErrClosed = errors.New("session: closed")
	// ErrNotFound is returned when no session has the given ID.
	ErrNotFound = errors.New("session: not found")
)
