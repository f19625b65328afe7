package main

// The socketio dialect: Socket.IO v5 clients (loadgen.SocketIO: Engine.IO
// v4 over WebSocket, CONNECT to the main namespace). Once connected, a
// client emits the server's join event with an ack id; the ack says it is
// in the room (ready). Publications are room events: the first argument
// that holds a payload (a JSON string, an object's "data" or "data_b64",
// or a binary attachment) is the publication; any other argument (a
// recovery offset the server appends) is ignored.

import (
	"fmt"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// dialectSocketIO: Socket.IO rooms; see the file comment.
const dialectSocketIO = "socketio"

// sioJoinAck is the ack id of the join event; no other ack is asked for.
const sioJoinAck = 1

// sioPath is the Engine.IO URL of a WebSocket-only client: no polling
// handshake first, the open packet is the first WebSocket message.
const sioPath = "/socket.io/?EIO=4&transport=websocket"

// sioOpened joins the room.
func (h *workerHandler) sioOpened(c *loadgen.Conn) {
	h.loop.Emit(c, sioJoinAck, h.join)
}

func (h *workerHandler) Packet(c *loadgen.Conn, pk *loadgen.Packet) {
	switch pk.Type {
	case loadgen.SIOAck, loadgen.SIOBinaryAck:
		if pk.ID != sioJoinAck {
			return
		}
		if len(h.joinAck) > 0 && string(pk.Data) != string(h.joinAck) {
			h.loop.Abort(c, fmt.Errorf("socket.io: join acked with %.120s, want %s", pk.Data, h.joinAck))
			return
		}
		h.loop.Ready(c)
	case loadgen.SIOEvent, loadgen.SIOBinaryEvent:
		if p, ok := sioPayload(pk); ok {
			h.publication(c, p, 0)
			return
		}
		h.undecoded++
	}
}

// sioPayload finds the publication in an event's arguments.
func sioPayload(pk *loadgen.Packet) ([]byte, bool) {
	var out []byte
	found, first := false, true
	jsonEach(pk.Data, func(arg []byte) bool {
		if first { // the event name
			first = false
			return true
		}
		switch {
		case len(arg) > 0 && arg[0] == '"':
			out, found = jsonString(arg)
		case len(arg) > 0 && arg[0] == '{':
			if n, ok := jsonField(arg, "num"); ok && len(pk.Binary) > 0 {
				if _, ph := jsonField(arg, "_placeholder"); ph {
					if i, ok := jsonUint(n); ok && int(i) < len(pk.Binary) {
						out, found = pk.Binary[i], true
					}
				}
			} else if v, ok := jsonField(arg, "data"); ok {
				out, found = jsonString(v)
			} else if v, ok := jsonField(arg, "data_b64"); ok {
				out, found = jsonBase64(v)
			}
		}
		if found {
			if _, _, _, ok := decodePayload(out); !ok {
				found = false // not ours: look further
			}
		}
		return !found
	})
	return out, found
}
