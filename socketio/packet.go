package socketio

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Type is a Socket.IO packet type, the first byte of a packet.
type Type uint8

// Packet types of Socket.IO v5.
const (
	TypeConnect      Type = iota // 0: connect to a namespace (client), its acceptance (server)
	TypeDisconnect               // 1: leave a namespace
	TypeEvent                    // 2: an event: ["name", args...]
	TypeAck                      // 3: the answer to an event with an id: [args...]
	TypeConnectError             // 4: a refused connect (server)
	TypeBinaryEvent              // 5: an event whose binary attachments follow
	TypeBinaryAck                // 6: an ack whose binary attachments follow
	numTypes
)

// MainNamespace is the namespace of a packet that names none.
const MainNamespace = "/"

// maxIDDigits bounds an ack id: 15 decimal digits stay below 2^53, the
// largest integer the JavaScript clients count exactly.
const maxIDDigits = 15

// maxAttachmentDigits bounds the attachment count's digits before the
// count is compared with the decoder's limit.
const maxAttachmentDigits = 6

// Packet is one decoded Socket.IO packet. Data aliases the bytes it was
// parsed from.
type Packet struct {
	Type Type
	// Namespace is "/" unless the packet names another.
	Namespace string
	// ID is the ack id when HasID.
	ID    uint64
	HasID bool
	// Attachments is how many binary messages follow a binary packet.
	Attachments int
	// Data is the JSON payload, nil when the packet has none. It has been
	// checked to be valid JSON of the shape the type needs.
	Data []byte
}

// reservedEvents are the event names a client may not send (the reference
// parser refuses them): they name the socket's own life cycle.
var reservedEvents = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// Reserved reports whether name is an event name reserved by Socket.IO.
// Safe for concurrent use.
func Reserved(name string) bool {
	for _, r := range reservedEvents {
		if r == name {
			return true
		}
	}
	return false
}

// Parse decodes one text packet, with the reference server's rules: a
// known type; for binary types an attachment count ending in '-' of at
// most maxAttachments; a namespace when the next byte is '/' (up to a ','
// or the end); an ack id of digits; then JSON that must fit the type (an
// object for CONNECT, none for DISCONNECT, an array starting with an event
// name for events, an array for acks). Anything else is a ProtocolError.
// Safe for concurrent use.
func Parse(b []byte, maxAttachments int) (Packet, error) {
	var p Packet
	if len(b) == 0 {
		return p, ErrEmptyPacket
	}
	if b[0] < '0' || b[0] >= '0'+byte(numTypes) {
		return p, ErrUnknownType
	}
	p.Type = Type(b[0] - '0')
	i := 1
	if p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck {
		dash := bytes.IndexByte(b[i:], '-')
		if dash <= 0 || dash > maxAttachmentDigits || !allDigits(b[i:i+dash]) {
			return p, ErrAttachments
		}
		n, _ := strconv.Atoi(string(b[i : i+dash]))
		if n == 0 {
			// A binary packet without attachments: the reference parser
			// refuses it ("Illegal attachments").
			return p, ErrAttachments
		}
		if n > maxAttachments {
			return p, ErrTooManyAttachments
		}
		p.Attachments = n
		i += dash + 1
	}
	p.Namespace = MainNamespace
	if i < len(b) && b[i] == '/' {
		end := bytes.IndexByte(b[i:], ',')
		if end < 0 {
			p.Namespace = string(b[i:])
			i = len(b)
		} else {
			p.Namespace = string(b[i : i+end])
			i += end + 1
		}
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > maxIDDigits {
			return p, ErrBadID
		}
		p.ID, _ = strconv.ParseUint(string(b[start:i]), 10, 64)
		p.HasID = true
	}
	if i < len(b) {
		p.Data = b[i:]
		if !validPayload(p.Type, p.Data) {
			return p, ErrBadPayload
		}
	}
	if p.Type == TypeDisconnect && p.Data != nil {
		return p, ErrBadPayload
	}
	return p, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validPayload reports whether data is JSON of the shape type t carries.
func validPayload(t Type, data []byte) bool {
	switch t {
	case TypeConnect:
		return jsonKind(data) == '{' && json.Valid(data)
	case TypeConnectError:
		k := jsonKind(data)
		return (k == '{' || k == '"') && json.Valid(data)
	case TypeEvent, TypeBinaryEvent:
		var args []json.RawMessage
		if jsonKind(data) != '[' || json.Unmarshal(data, &args) != nil || len(args) == 0 {
			return false
		}
		switch jsonKind(args[0]) {
		case '"':
			var name string
			return json.Unmarshal(args[0], &name) == nil && !Reserved(name)
		case '0':
			return true
		}
		return false
	case TypeAck, TypeBinaryAck:
		return jsonKind(data) == '[' && json.Valid(data)
	}
	return false // DISCONNECT carries nothing
}

// jsonKind returns the first byte of a JSON value after white space, with
// every number reported as '0'; 0 for none.
func jsonKind(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return '0'
		}
		return c
	}
	return 0
}

// AppendPacket appends the text form of p to dst: the type, for a binary
// type the attachment count and '-', the namespace and ',' unless it is
// "/", the ack id, then Data as it is (the caller makes it valid JSON).
// Safe for concurrent use.
func AppendPacket(dst []byte, p *Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	dst = appendNamespace(dst, p.Namespace)
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// appendNamespace appends "nsp," for a namespace other than the main one.
func appendNamespace(dst []byte, nsp string) []byte {
	if nsp != "" && nsp != MainNamespace {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	return dst
}

// EventName returns the name of an event packet's event (the first element
// of Data): a string's value, or a number's text. Safe for concurrent use.
func EventName(data []byte) (string, []json.RawMessage, error) {
	var args []json.RawMessage
	if err := json.Unmarshal(data, &args); err != nil || len(args) == 0 {
		return "", nil, ErrBadPayload
	}
	if jsonKind(args[0]) == '0' {
		return string(bytes.TrimSpace(args[0])), args[1:], nil
	}
	var name string
	if err := json.Unmarshal(args[0], &name); err != nil {
		return "", nil, ErrBadPayload
	}
	return name, args[1:], nil
}
