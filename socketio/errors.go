package socketio

import "errors"

// ProtocolError is a Socket.IO packet the reference server would refuse.
// The server closes the client's Engine.IO session on one, as the
// reference server does.
type ProtocolError string

// Error returns the error's text. Safe for concurrent use.
func (e ProtocolError) Error() string { return "socketio: " + string(e) }

// Protocol errors of Parse and of the reassembly of binary packets.
const (
	ErrEmptyPacket        ProtocolError = "empty packet"
	ErrUnknownType        ProtocolError = "unknown packet type"
	ErrAttachments        ProtocolError = "illegal attachments"
	ErrTooManyAttachments ProtocolError = "too many attachments"
	ErrBadID              ProtocolError = "invalid ack id"
	ErrBadPayload         ProtocolError = "invalid payload"
	ErrBadPlaceholder     ProtocolError = "illegal attachments placeholder"
	// ErrUnexpectedBinary: a binary message when no binary packet waits
	// for attachments.
	ErrUnexpectedBinary ProtocolError = "got binary data when not reconstructing a packet"
	// ErrUnexpectedText: a text packet while a binary packet waits for its
	// attachments.
	ErrUnexpectedText ProtocolError = "got plaintext data when reconstructing a packet"
	// ErrAttachmentsTooLarge: the attachments of one packet pass
	// Config.MaxAttachmentBytes.
	ErrAttachmentsTooLarge ProtocolError = "attachments too large"
	// ErrInvalidState: a packet for a namespace the client is not
	// connected to (other than CONNECT), a CONNECT to one it is, or a
	// CONNECT_ERROR from the client.
	ErrInvalidState ProtocolError = "invalid state"
)

var (
	// ErrNotConnected is returned by a Socket's methods once it has left
	// its namespace.
	ErrNotConnected = errors.New("socketio: socket not connected")
	// ErrTooManyAcks is returned by EmitWithAck when the socket already
	// waits for Config.MaxPendingAcks acknowledgements.
	ErrTooManyAcks = errors.New("socketio: too many pending acks")
	// ErrAckTimeout is what an ack callback gets when the client did not
	// answer in time.
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrReservedEvent: an emit of a name the protocol reserves.
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrBadRoom: a room name that does not map to a topic (RoomTopic).
	ErrBadRoom = errors.New("socketio: invalid room name")
	// ErrRoomDenied: the token's claims do not allow the room's topic.
	ErrRoomDenied = errors.New("socketio: room not allowed")
	// ErrTooManyRooms: a join over Config.MaxRooms.
	ErrTooManyRooms = errors.New("socketio: too many rooms")
	// ErrNoHub: a broadcast before Server.Attach.
	ErrNoHub = errors.New("socketio: server not attached to a hub")
)
