// Package loadgen is c1m's WebSocket load generator: many client
// connections driven from one epoll loop per process, with no goroutine
// per connection, so one process can hold as many connections as its
// open-file limit allows. Connections are spread over 127.0.x.y source
// addresses, 20,000 per address, to stay clear of the 28k ephemeral ports
// each (source, destination) pair has.
package loadgen
