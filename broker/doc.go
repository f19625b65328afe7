// Package broker links the nodes of a c1m cluster through NATS: it is the
// session.Bus of a node's hub.
//
// Every publication goes to a JetStream stream, the sequencer, whose
// sequence number becomes the publication's offset; the sequencer keeps
// only the last message of each topic and republishes each message, with
// its sequence and the sequence of the topic's previous message, to a
// second stream, the history, which keeps each topic's recent messages.
// Every node reads the history stream with one ordered consumer, from the
// start, and hands each message to its hub (session.Hub.Deliver): so every
// node delivers every topic's publications in the same order with the same
// offsets, the node that published included, and keeps the same history, so
// a client resumes on any node from a position it had on another. The design
// note is docs/cluster.md.
//
// Concurrency: a Broker's exported methods are Safe for concurrent use.
// Its NATS callbacks run on nats.go's goroutines, and reach the hub's shards
// only through the hub (which posts to their inboxes), never a session.
package broker
