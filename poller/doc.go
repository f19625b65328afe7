// Package poller is c1m's HTTP family of transports, for clients that cannot
// speak WebSocket: Server-Sent Events, HTTP streaming (NDJSON and the seed's
// multipart), the forever iframe, long-polling and polling, JSONP polling,
// and the client-to-server path (/send) that makes each of them
// bidirectional. "poller" means HTTP polling, not epoll. The wire formats
// are in PROTOCOL.md ("Without WebSocket").
//
// The package decides what a request asks for (Route, ParseParams) and
// what goes on the wire for each transport (Stream), in terms of a small
// Output that the server implements on its event loop: the connection's
// own bytes, publications queued by reference (encoded once for every
// connection that uses the same form), the slow-client policy, and the end
// of a response. It never imports the reactor or net/http.
//
// Concurrency: a Stream belongs to one connection and is Loop-only, like
// the session it carries. Route, ParseParams and the encoders are safe for
// concurrent use.
package poller
