package server

import "errors"

var (
	// ErrDropped is returned by a send that the SlowDrop policy dropped.
	ErrDropped = errors.New("c1m: message dropped: client too slow")
	// ErrSlowConsumer is returned by a send that made the SlowDisconnect
	// policy close the session.
	ErrSlowConsumer = errors.New("c1m: session closed: client too slow")
	// ErrServerClosed is returned by Serve after Shutdown, and by Start
	// or Serve after a Shutdown that came before them.
	ErrServerClosed = errors.New("c1m: server closed")
	// ErrEngineStopped is what Serve returns when the event-loop engine
	// stopped without Shutdown (gnet ends it on a fatal accept or poller
	// error); the message adds gnet's reason.
	ErrEngineStopped = errors.New("c1m: the event-loop engine stopped by itself")
	// ErrNotStarted is returned by methods that need a running server,
	// such as Shutdown before Start or Serve.
	ErrNotStarted = errors.New("c1m: server not started")
	// ErrAlreadyStarted is returned by Start or Serve on a server that was
	// started before: a Server runs once.
	ErrAlreadyStarted = errors.New("c1m: server already started")

	// ErrProxyProtocolMode is a PROXY protocol mode other than off,
	// optional or required (ParseProxyProtocol).
	ErrProxyProtocolMode = errors.New("c1m: PROXY protocol mode must be off, optional or required")

	// ErrReusePortZero is returned by Serve and Start when Config.ReusePort
	// is set and Addr has no fixed port: no other process could find a
	// port 0 resolved at start to share it.
	ErrReusePortZero = errors.New("c1m: ReusePort needs a fixed port in Addr, not port 0")
)
