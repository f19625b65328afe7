// Package loadgen is c1m's load generator: many client connections driven
// from one epoll loop per process, with no goroutine, timer or buffer per
// idle connection, so one process can hold as many connections as its
// open-file limit allows.
//
// Transports (Config.Transport): WebSocket (an upgrade, then frames),
// EventStream (Server-Sent Events: one GET, a text/event-stream body,
// chunked or ended by the close), Poll (long-polling: one GET at a time
// on a kept-alive connection, the next sent by the handler with the cursor
// of the reply) and SocketIO (Socket.IO v5 over Engine.IO v4 over
// WebSocket: the loop answers the Engine.IO handshake and heartbeats and
// connects the main namespace; packets go to Handler.Packet; socketio.go
// is the pure packet codec, sioconn.go the client on the loop). The
// parsers (http.go, eventstream.go, socketio.go) are pure and
// incremental: bytes may arrive split anywhere; what a read leaves
// incomplete is kept for the next one, and the event parser carries its
// own partial line.
//
// Readiness: a connection counts in Loop.Open once it is ready, which is
// when its transport opens, or, with Config.WaitReady, when the handler
// calls Loop.Ready (a subscribe reply, the stream's first event, the first
// poll reply, the ack of a Socket.IO join). Until then it is under
// Config.HandshakeTimeout.
//
// Source addresses: every (source IP, destination) pair has 28,232
// ephemeral ports here (32768–60999), and the kernel's port search gets
// slower as a pair fills up (at 19k connections from one source address
// the connect rate fell from 16k/s to 2.8k/s). A Loop therefore spreads its
// connections round-robin over Config.Sources addresses starting at
// Config.SourceBase (SourceAddr), binds with IP_BIND_ADDRESS_NO_PORT so the
// port is chosen at connect time for the full 4-tuple, and several loops (or
// processes) given disjoint bases never share an address.
//
// Concurrency: a Loop and its Conns are used from one goroutine only, the
// one that calls Poll; the Handler runs on it.
package loadgen
