package loadgen

import "bytes"

// The SocketIO transport's client side on the loop: the Engine.IO
// handshake and heartbeat, the CONNECT to the main namespace, binary
// packets reassembled from their attachments. Packets come from
// consumeWebSocket, one WebSocket message each.

// sioState is a SocketIO connection's progress. The zero value waits for
// the Engine.IO open packet.
type sioState struct {
	opened    bool       // the Engine.IO open packet came (CONNECT sent)
	connected bool       // the main namespace's CONNECT reply came
	bin       *sioBinary // a binary packet waiting for its attachments
}

// sioBinary is a binary packet whose attachments are still arriving. It
// exists only between the packet and its last attachment.
type sioBinary struct {
	head []byte // the Socket.IO packet, copied
	want int
	atts [][]byte
}

// maxAttachmentBytes bounds the bytes of one binary packet's attachments
// the client keeps while it waits for the rest.
const maxAttachmentBytes = 1 << 20

// sioConnect is the CONNECT to the main namespace, with no auth payload.
var sioConnect = AppendPacket(nil, SIOConnect, "/", -1, nil)

// engineIO handles one Engine.IO packet: a text WebSocket message, or a
// binary one (an attachment).
func (l *Loop) engineIO(c *Conn, binary bool, p []byte) error {
	if binary {
		return l.attachment(c, p)
	}
	if len(p) == 0 {
		return ProtocolError("engine.io: an empty packet")
	}
	switch p[0] {
	case EIOOpen:
		if c.sio.opened {
			return ProtocolError("engine.io: a second open packet")
		}
		if len(p) < 2 || p[1] != '{' {
			return ProtocolError("engine.io: an open packet without its handshake object: " + quote(p))
		}
		c.sio.opened = true
		c.out = appendMasked(c.out, opText, sioConnect)
		l.flush(c)
	case EIOPing:
		// The pong carries the ping's data back (none in v4 heartbeats).
		l.scratch = append(append(l.scratch[:0], EIOPong), p[1:]...)
		c.out = appendMasked(c.out, opText, l.scratch)
		l.Pings++
		l.flush(c)
	case EIOPong, EIONoop:
	case EIOClose:
		return ErrClosedByServer
	case EIOMessage:
		if !c.sio.opened {
			return ProtocolError("engine.io: a message before the open packet")
		}
		if c.sio.bin != nil {
			return ProtocolError("socket.io: a packet while attachments were due")
		}
		pk, err := ParsePacket(p[1:])
		if err != nil {
			return err
		}
		if pk.Attachments > 0 {
			c.sio.bin = &sioBinary{head: bytes.Clone(p[1:]), want: pk.Attachments}
			return nil
		}
		return l.packet(c, &pk)
	default:
		return ProtocolError("engine.io: unknown packet type in " + quote(p))
	}
	return nil
}

// attachment takes one binary attachment of the packet waiting for it.
func (l *Loop) attachment(c *Conn, p []byte) error {
	b := c.sio.bin
	if b == nil {
		return ProtocolError("socket.io: a binary message with no packet waiting for it")
	}
	size := len(p)
	for _, a := range b.atts {
		size += len(a)
	}
	if size > maxAttachmentBytes {
		return ProtocolError("socket.io: attachments over the client's bound")
	}
	b.atts = append(b.atts, bytes.Clone(p))
	if len(b.atts) < b.want {
		return nil
	}
	c.sio.bin = nil
	pk, err := ParsePacket(b.head)
	if err != nil {
		return err // parsed once already: cannot fail
	}
	pk.Binary = b.atts
	return l.packet(c, &pk)
}

// packet handles a complete Socket.IO packet.
func (l *Loop) packet(c *Conn, pk *Packet) error {
	root := bytes.Equal(pk.Namespace, rootNamespace)
	switch pk.Type {
	case SIOConnect:
		if !root || c.sio.connected {
			return ProtocolError("socket.io: a CONNECT the client did not ask for")
		}
		c.sio.connected = true
		l.notifyOpened(c)
		return nil
	case SIOConnectError:
		return ProtocolError("socket.io: connect refused: " + quote(pk.Data))
	case SIODisconnect:
		if root {
			return ErrClosedByServer
		}
	}
	c.Received++
	l.h.Packet(c, pk)
	return nil
}

// Emit sends an EVENT to the main namespace: data is its JSON array,
// the event name first; id asks for an ack (an ACK packet with the same
// id comes back to Handler.Packet), -1 for none. SocketIO only.
// Loop-only.
func (l *Loop) Emit(c *Conn, id int64, data []byte) {
	if c.state == stateClosed {
		return
	}
	l.scratch = AppendPacket(l.scratch[:0], SIOEvent, "/", id, data)
	c.out = appendMasked(c.out, opText, l.scratch)
	l.flush(c)
}
