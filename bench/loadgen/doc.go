// Package loadgen is c1m's WebSocket load generator: many client
// connections driven from one epoll loop per process, with no goroutine
// per connection, so one process can hold as many connections as its
// open-file limit allows.
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
