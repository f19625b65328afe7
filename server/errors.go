package server

import "errors"

var (
	// ErrDropped is returned by a send that the SlowDrop policy dropped.
	ErrDropped = errors.New("c1m: message dropped: client too slow")
	// ErrSlowConsumer is returned by a send that made the SlowDisconnect
	// policy close the session.
	ErrSlowConsumer = errors.New("c1m: session closed: client too slow")
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("c1m: server closed")
	// ErrNotStarted is returned by methods that need a running server.
	ErrNotStarted = errors.New("c1m: server not started")
)
