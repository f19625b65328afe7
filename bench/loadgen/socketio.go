package loadgen

import (
	"bytes"
	"strconv"
)

// The Socket.IO client's wire forms, from the protocol documents
// (engine.io-protocol v4, socket.io-protocol v5). Pure: bytes in, bytes
// out, no socket, no clock.
//
// Engine.IO v4 over WebSocket: one packet per WebSocket message. A text
// message is a packet type digit and its data ("0{...}" open, "2" ping,
// "3" pong, "4..." message, "1" close, "6" noop); a binary message is a
// binary Engine.IO message, with no type byte.
//
// Socket.IO v5 inside an Engine.IO message:
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//
// with the namespace only when it is not "/", the attachment count only
// for BINARY_EVENT and BINARY_ACK (their binary parts follow as that many
// binary Engine.IO messages) and the ack id only when an ack is asked for
// (EVENT) or given (ACK).

// Engine.IO v4 packet types, as the first byte of a text message.
const (
	EIOOpen    = '0'
	EIOClose   = '1'
	EIOPing    = '2'
	EIOPong    = '3'
	EIOMessage = '4'
	EIOUpgrade = '5'
	EIONoop    = '6'
)

// Socket.IO v5 packet types.
const (
	SIOConnect      = '0'
	SIODisconnect   = '1'
	SIOEvent        = '2'
	SIOAck          = '3'
	SIOConnectError = '4'
	SIOBinaryEvent  = '5'
	SIOBinaryAck    = '6'
)

// maxAttachments bounds a binary packet's declared attachment count: the
// client keeps the packet until they all arrived.
const maxAttachments = 64

// Packet is one decoded Socket.IO packet. Its slices point into the bytes
// it was parsed from (or, for Attachments, into the loop's buffers): valid
// only during the handler call.
type Packet struct {
	// Type is one of the SIO* constants.
	Type byte
	// Namespace is "/" when the packet names none.
	Namespace []byte
	// ID is the ack id, -1 when the packet has none.
	ID int64
	// Data is the JSON payload: an object for CONNECT and CONNECT_ERROR,
	// an array for EVENT and ACK (the event name first), empty when the
	// packet has none.
	Data []byte
	// Attachments is the declared attachment count of a binary packet.
	Attachments int
	// Binary holds the attachments' bytes, in order, once they arrived.
	Binary [][]byte
}

var rootNamespace = []byte("/")

// ParsePacket decodes the Socket.IO packet that an Engine.IO message
// (without its '4' type byte) carries. It checks what the client needs:
// a known type, a well-formed attachment count, namespace and ack id,
// and data of the right JSON kind (its inside is not validated here).
// Pure: safe for concurrent use.
func ParsePacket(p []byte) (Packet, error) {
	pk := Packet{Namespace: rootNamespace, ID: -1}
	if len(p) == 0 || p[0] < SIOConnect || p[0] > SIOBinaryAck {
		return pk, ProtocolError("socket.io: bad packet type in " + quote(p))
	}
	pk.Type = p[0]
	i := 1
	if pk.Type == SIOBinaryEvent || pk.Type == SIOBinaryAck {
		j := i
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j == i || j == len(p) || p[j] != '-' || j-i > 3 {
			return pk, ProtocolError("socket.io: bad attachment count in " + quote(p))
		}
		n, _ := strconv.Atoi(string(p[i:j]))
		if n == 0 {
			// A binary packet carries at least one attachment; the server
			// refuses "50-[...]" too, and the encoding could not say 0.
			return pk, ProtocolError("socket.io: binary packet without attachments in " + quote(p))
		}
		if n > maxAttachments {
			return pk, ProtocolError("socket.io: over " + strconv.Itoa(maxAttachments) + " attachments in " + quote(p))
		}
		pk.Attachments, i = n, j+1
	}
	if i < len(p) && p[i] == '/' {
		j := bytes.IndexByte(p[i:], ',')
		if j < 0 {
			pk.Namespace, i = p[i:], len(p)
		} else {
			pk.Namespace, i = p[i:i+j], i+j+1
		}
	}
	if j := i; j < len(p) && p[j] >= '0' && p[j] <= '9' {
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		id, err := strconv.ParseInt(string(p[i:j]), 10, 64)
		if err != nil {
			return pk, ProtocolError("socket.io: bad ack id in " + quote(p))
		}
		pk.ID, i = id, j
	}
	pk.Data = p[i:]
	var want byte
	switch pk.Type {
	case SIOConnect, SIOConnectError:
		want = '{'
	case SIOEvent, SIOAck, SIOBinaryEvent, SIOBinaryAck:
		want = '['
	case SIODisconnect:
		if len(pk.Data) > 0 {
			return pk, ProtocolError("socket.io: data in a DISCONNECT: " + quote(p))
		}
	}
	if want != 0 && len(pk.Data) > 0 && (pk.Data[0] != want || len(pk.Data) < 2) {
		return pk, ProtocolError("socket.io: bad data in " + quote(p))
	}
	if (pk.Type == SIOEvent || pk.Type == SIOBinaryEvent || pk.Type == SIOAck || pk.Type == SIOBinaryAck) && len(pk.Data) == 0 {
		return pk, ProtocolError("socket.io: no data in " + quote(p))
	}
	if (pk.Type == SIOAck || pk.Type == SIOBinaryAck) && pk.ID < 0 {
		return pk, ProtocolError("socket.io: an ACK without an id: " + quote(p))
	}
	return pk, nil
}

// AppendPacket appends the Engine.IO message (its '4' type byte first)
// that carries a Socket.IO packet of type typ to namespace ns ("" or "/"
// for the main one) with ack id id (-1: none) and JSON data (may be
// empty). Binary packets are not sent by the client. Pure: safe for
// concurrent use.
func AppendPacket(dst []byte, typ byte, ns string, id int64, data []byte) []byte {
	dst = append(dst, EIOMessage, typ)
	if ns != "" && ns != "/" {
		dst = append(append(dst, ns...), ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return append(dst, data...)
}

// quote shows the start of a packet in an error.
func quote(p []byte) string {
	const show = 80
	return strconv.Quote(string(p[:min(len(p), show)]))
}
