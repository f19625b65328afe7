package codec

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The client wire protocol of c1m's push server (PROTOCOL.md): publications
// arrive as the published bytes, or, for a client that chose the envelope
// subprotocol, wrapped in a JSON object that also carries topic and offset.
// Clients send JSON commands.

// EnvelopeProtocol is the WebSocket subprotocol that selects envelopes.
const EnvelopeProtocol = "c1m.v1.json"

// AppendEnvelope appends the JSON envelope of a publication to dst:
//
//	{"topic":"news","offset":7,"epoch":"k3v9q0","data":"hello"}
//
// The epoch is left out when empty (a broadcast). A payload that is valid
// UTF-8 goes in "data" as a JSON string; any other payload goes in
// "data_b64", base64 (standard, padded).
func AppendEnvelope(dst []byte, topic, epoch string, offset uint64, payload []byte) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendJSONString(dst, topic)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, offset, 10)
	if epoch != "" {
		dst = append(dst, `,"epoch":`...)
		dst = appendJSONString(dst, epoch)
	}
	return appendData(dst, payload)
}

// appendData appends the "data" or "data_b64" member of payload and closes
// the object.
func appendData(dst, payload []byte) []byte {
	if utf8.Valid(payload) {
		dst = append(dst, `,"data":`...)
		dst = appendJSONString(dst, string(payload))
	} else {
		dst = append(dst, `,"data_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, payload)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string; s must be valid UTF-8. The
// result is also safe inside HTML and as JavaScript source (iframe and
// JSONP transports): <, >, & and the line separators U+2028 and U+2029,
// which end a line in JavaScript before ES2019, are escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[s[i+2]&0xf])
			i += 2
			start = i + 1
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default: // other controls, and <>& so that the JSON is safe in HTML
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Command is a client's request, sent as a JSON text message:
//
//	{"op":"subscribe","topic":"news","id":1}
//	{"op":"unsubscribe","topic":"news"}
//	{"op":"publish","topic":"chat","data":"hi"}
//	{"op":"subscribe","topic":"private:x","token":"eyJ..."}
//	{"op":"refresh","token":"eyJ..."}
type Command struct {
	Op    string          `json:"op"`
	Topic string          `json:"topic"`
	ID    json.RawMessage `json:"id,omitempty"` // echoed in the reply when present
	Data  json.RawMessage `json:"data,omitempty"`
	// Since and Epoch, on a subscribe, are the client's position: it
	// resumes from there (history permitting).
	Since *uint64 `json:"since,omitempty"`
	Epoch string  `json:"epoch,omitempty"`
	// Token is a JWT: on a refresh, the session's new connection token;
	// on a subscribe, a token whose claims grant the topic.
	Token string `json:"token,omitempty"`
}

// Position returns the position a subscribe command resumes from, or nil.
// Safe for concurrent use.
func (c *Command) Position() *Position {
	if c.Since == nil {
		return nil
	}
	return &Position{Topic: c.Topic, Epoch: c.Epoch, Offset: *c.Since}
}

// Command operations.
const (
	OpSubscribe   = "subscribe"
	OpUnsubscribe = "unsubscribe"
	OpPublish     = "publish"
	// OpRefresh replaces the session's connection token with Token
	// before the old one expires; it has no topic.
	OpRefresh = "refresh"
)

// Limits on topic names: printable, no spaces, at most MaxTopicLen bytes.
const MaxTopicLen = 256

// ParseCommand parses and validates a client command: one JSON object whose
// keys are exactly op, topic, id, data, since, epoch and token (lower case,
// each at most once; decodeCommand): a refresh has a token and no topic,
// and only a subscribe may also carry a token. data must be UTF-8, as JSON (RFC 8259 section 8.1) and a
// text message are: encoding/json would otherwise replace invalid bytes in
// strings but keep them in ID, and the reply that echoes ID would be a text
// frame with invalid UTF-8. The server only passes text messages, already
// validated, so the check costs nothing there; it guards every other
// caller. The fields alias nothing in data.
func ParseCommand(data []byte) (Command, error) {
	var c Command
	if !utf8.Valid(data) {
		return c, ErrBadCommand
	}
	if err := decodeCommand(data, &c); err != nil {
		return Command{}, ErrBadCommand
	}
	switch c.Op {
	case OpRefresh:
		// A token and an id, nothing else.
		if c.Token == "" || c.Topic != "" || c.Data != nil || c.Since != nil || c.Epoch != "" {
			return c, ErrBadCommand
		}
		return c, nil
	case OpSubscribe, OpUnsubscribe, OpPublish:
	default:
		return c, ErrBadCommand
	}
	if (c.Token != "" && c.Op != OpSubscribe) || !ValidTopic(c.Topic) || (c.Epoch != "" && !ValidEpoch(c.Epoch)) || (c.Since != nil && c.Op != OpSubscribe) {
		return c, ErrBadCommand
	}
	return c, nil
}

// PublishPayload returns the bytes a publish command publishes: the string's
// contents when data is a JSON string, else data's JSON text as sent.
func (c *Command) PublishPayload() []byte {
	var s string
	if len(c.Data) > 0 && c.Data[0] == '"' && json.Unmarshal(c.Data, &s) == nil {
		return []byte(s)
	}
	return c.Data
}

// ValidTopic reports whether name is a usable topic: 1 to MaxTopicLen bytes
// of printable ASCII without spaces. Names starting with '$' are reserved
// for the server.
func ValidTopic(name string) bool {
	if len(name) == 0 || len(name) > MaxTopicLen || name[0] == '$' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] >= 0x7f {
			return false
		}
	}
	return true
}

// AppendReply appends a command reply: {"op":"ok","id":ID} or, with a
// non-empty reason, {"op":"error","id":ID,"error":"reason"}.
func AppendReply(dst []byte, id json.RawMessage, reason string) []byte {
	if reason == "" {
		dst = append(dst, `{"op":"ok"`...)
	} else {
		dst = append(dst, `{"op":"error"`...)
	}
	if len(id) > 0 {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	if reason != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, reason)
	}
	return append(dst, '}')
}
