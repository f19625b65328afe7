package server

import "github.com/c1mhq/c1m/session"

// Hub reaches the server's sessions from any goroutine, across its event
// loops: it publishes to topics, broadcasts, sends to one session or to a
// user's, and reads the node's figures. Server.Hub returns it. It offers
// what an embedding program may do across sessions and nothing of the
// shard machinery (the shards, the bus, history sweeps), which the server
// and package broker drive through session.Hub.
//
// Hub is a defined type over session.Hub, not a wrapper: Server.Hub hands
// out the hub the server holds, converted in place, so reaching it costs
// no allocation. A package of this module that needs the machinery
// converts explicitly: (*session.Hub)(srv.Hub()).
//
// Every method is Safe for concurrent use.
type Hub session.Hub

// machinery returns the hub as the server and the transports see it.
func (h *Hub) machinery() *session.Hub { return (*session.Hub)(h) }

// Publish publishes data to topic name and returns its offset: every
// session subscribed to the topic (Session.Subscribe), on any loop, gets
// it, in offset order. A topic that keeps history (Config.History) is
// numbered and kept whether or not anyone subscribes; one that does not,
// and that no session on the node subscribes to, reaches nobody and is not
// numbered: its offset is 0. When a loop with subscribers has
// Config.MaxBacklog of publications waiting, Publish returns
// session.ErrBacklog and publishes nothing. data is kept and shared: the
// caller must not modify it afterwards. On a cluster, Publish waits for
// the bus and returns the cluster's offset, or an error wrapping
// session.ErrUnavailable; on an event loop it does not wait and returns
// offset 0 (PublishThen reports the outcome). See session.Hub.Publish.
// Safe for concurrent use.
func (h *Hub) Publish(name string, data []byte) (uint64, error) {
	return h.machinery().Publish(name, data)
}

// PublishThen is Publish for a caller that must not wait but must learn
// the outcome (a handler on an event loop): done gets Publish's results,
// once. On a single node, or when the publication is refused before the
// bus takes it, done runs before PublishThen returns, on the caller's
// goroutine; otherwise it runs on another goroutine once the cluster holds
// the publication or could not take it. data is kept: the caller must not
// modify it afterwards. Safe for concurrent use.
func (h *Hub) PublishThen(name string, data []byte, done func(offset uint64, err error)) {
	h.machinery().PublishThen(name, data, done)
}

// Broadcast sends data to every open session of the server (of every node
// on a cluster). When a loop refuses it (it is stopping), the others still
// get it and the first error is returned. data is kept and shared: the
// caller must not modify it afterwards. Safe for concurrent use.
func (h *Hub) Broadcast(data []byte) error { return h.machinery().Broadcast(data) }

// SendTo sends data to the session with id (Session.ID), wherever it
// lives, and returns session.ErrNotFound when that session has ended (or
// never was), session.ErrClosed when it is closing, and the transport's
// refusal under its slow-client policy. On the session's own loop it
// writes at once; from a goroutine that is no event loop (a worker, an API
// handler) it waits for the session's loop to take the message, about one
// round of the loop; on another event loop, which must never wait, it
// posts the message and returns nil. data is kept and shared: the caller
// must not modify it afterwards. See session.Hub.SendTo. Safe for
// concurrent use.
func (h *Hub) SendTo(id uint64, data []byte) error { return h.machinery().SendTo(id, data) }

// SendToUser sends data to every session of user (Session.SetUser,
// Request.SetUser), on every loop. data is kept and shared: the caller
// must not modify it afterwards. Safe for concurrent use.
func (h *Hub) SendToUser(user string, data []byte) error {
	return h.machinery().SendToUser(user, data)
}

// Position returns the epoch and offset of the last publication to topic
// name; a topic the node does not number (no subscriber, no history) has
// none: "", 0. Safe for concurrent use.
func (h *Hub) Position(name string) (epoch string, offset uint64) {
	return h.machinery().Position(name)
}

// Presence returns how many of the node's sessions subscribe to topic
// name. Safe for concurrent use.
func (h *Hub) Presence(name string) int64 { return h.machinery().Presence(name) }

// Totals returns the server's counters summed over its loops (connections,
// sessions, messages, bytes, deliveries, evictions...). Safe for
// concurrent use.
func (h *Hub) Totals() session.Totals { return h.machinery().Totals() }

// History returns the figures of the node's topic history (topics,
// entries, bytes, the cap). Safe for concurrent use.
func (h *Hub) History() session.HistoryStats { return h.machinery().History() }
