package socketio

import (
	"encoding/json"
	"strings"

	"github.com/c1mhq/c1m/server"
)

// PushConfig configures the push events of ServePush. Its zero value
// works.
type PushConfig struct {
	// ClientPublish lets clients publish to rooms with the "publish"
	// event. Off by default: publishing is the backend's, through the API.
	// With Config.Tokens, the token's claims must also allow the topic.
	ClientPublish bool
	// EventRate caps the push events one socket sends, per second, with a
	// token bucket of EventBurst: over it an event gets the ack error
	// "rate limited" and does nothing, and a client that goes on sending
	// after three bursts' worth of refusals in a row is closed (1008 on
	// WebSocket). Zero means no limit.
	EventRate float64
	// EventBurst is how many events a socket may send at once before
	// EventRate applies. Zero means one second's worth (at least 1).
	EventBurst int
	// PublishRate caps the publish events one socket sends, per second,
	// with a token bucket of PublishBurst, on top of EventRate: over it
	// a publish gets the ack error "publish rate limited" and publishes
	// nothing, and a client that goes on after three bursts' worth of
	// refusals in a row is closed (1008 on WebSocket). Zero means no
	// limit.
	PublishRate float64
	// PublishBurst is how many publish events a socket may send at once
	// before PublishRate applies. Zero means one second's worth (at
	// least 1).
	PublishBurst int
}

// Push event names, and the ack error a refused one gets.
const (
	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
	EventPublish     = "publish"

	ReasonPublishDenied  = "publishing is not allowed"
	ReasonPublishFailed  = "publish failed"
	ReasonBadArguments   = "bad arguments"
	ReasonRoomNotAllowed = "room not allowed"
)

// ServePush makes namespace n a push namespace, as the c1m binary serves
// "/": a client joins rooms with emit("subscribe", room or [rooms], ack)
// and leaves them with "unsubscribe"; with cfg.ClientPublish it publishes
// with emit("publish", room, data, ack), data being a string (published
// as its text) or any JSON value (published as JSON text). Each ack gets
// null, or an error string. Publications to a room's topic, from the
// backend API or any client, reach the room's sockets as events
// (EncodePublication). cfg nil means defaults. Safe for concurrent use.
func ServePush(n *Namespace, cfg *PushConfig) {
	var c PushConfig
	if cfg != nil {
		c = *cfg
	}
	lim, pubs := newLimiter(c.EventRate, c.EventBurst, false), newLimiter(c.PublishRate, c.PublishBurst, true)
	limited := func(h EventHandler) EventHandler {
		return func(s *Socket, a Args, ack *Ack) {
			if !lim.allow(s) {
				reply(ack, ReasonRateLimited)
				return
			}
			h(s, a, ack)
		}
	}
	n.On(EventSubscribe, limited(func(s *Socket, a Args, ack *Ack) {
		reply(ack, eachRoom(a, s.Join))
	}))
	n.On(EventUnsubscribe, limited(func(s *Socket, a Args, ack *Ack) {
		reply(ack, eachRoom(a, func(r string) error { s.Leave(r); return nil }))
	}))
	n.On(EventPublish, limited(func(s *Socket, a Args, ack *Ack) {
		room, ok := a.String(0)
		if !ok || a.Len() != 2 {
			reply(ack, ReasonBadArguments)
			return
		}
		if !c.ClientPublish || !s.CanPublish(room) {
			s.c.srv.deny(server.DenyPublish)
			reply(ack, ReasonPublishDenied)
			return
		}
		if !pubs.allow(s) {
			reply(ack, server.ReasonPublishRateLimited)
			return
		}
		data := []byte(a.JSON[1])
		if str, ok := a.String(1); ok {
			data = []byte(str)
		}
		topic, _ := RoomTopic(s.nsp.name, room)
		// In a cluster the ack waits (off the loop) until the cluster
		// holds the publication, so that a client whose publication was
		// lost (NATS restarting) is told so; on one node it is at once.
		s.hub().PublishThen(topic, data, func(_ uint64, err error) {
			if err != nil {
				reply(ack, ReasonPublishFailed)
				return
			}
			reply(ack, "")
		})
	}))
}

// eachRoom applies fn to the room or rooms of a's first argument and
// returns the first refusal's reason, "" when all went through.
func eachRoom(a Args, fn func(string) error) string {
	var rooms []string
	if r, ok := a.String(0); ok {
		rooms = []string{r}
	} else if a.Len() == 0 || json.Unmarshal(a.JSON[0], &rooms) != nil || len(rooms) == 0 {
		return ReasonBadArguments
	}
	for _, r := range rooms {
		switch err := fn(r); err {
		case nil:
		case ErrRoomDenied:
			return ReasonRoomNotAllowed
		default:
			return strings.TrimPrefix(err.Error(), "socketio: ")
		}
	}
	return ""
}

// reply acks with null, or with the reason of a refusal.
func reply(ack *Ack, reason string) {
	if ack == nil {
		return
	}
	if reason == "" {
		_ = ack.Send(nil)
		return
	}
	_ = ack.Send(reason)
}
