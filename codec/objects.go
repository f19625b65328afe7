package codec

import (
	"bytes"
	"strconv"
)

// The JSON objects of the HTTP transports besides envelopes (PROTOCOL.md,
// "Without WebSocket"). Every one is a single line, safe in HTML, in
// JavaScript source and in an SSE data field.

// Object operations.
const (
	ObjOpen       = "open"
	ObjSubscribed = "subscribed"
	// ObjUnsubscribed ends a subscription the server took back.
	ObjUnsubscribed = "unsubscribed"
	ObjReset        = "reset"
	ObjMessage      = "message"
	ObjPing         = "ping"
)

// AppendStart appends {"op":OP,"topic":T,"epoch":E,"offset":N}: where a
// subscription starts (op "subscribed") or that a position was reset.
func AppendStart(dst []byte, op, topic, epoch string, offset uint64) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, op...)
	dst = append(dst, `","topic":`...)
	dst = appendJSONString(dst, topic)
	dst = append(dst, `,"epoch":`...)
	dst = appendJSONString(dst, epoch)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, offset, 10)
	return append(dst, '}')
}

// AppendUnsubscribed appends {"op":"unsubscribed","topic":T,"error":R}: the
// server ended the session's subscription to T, for reason R.
func AppendUnsubscribed(dst []byte, topic, reason string) []byte {
	dst = append(dst, `{"op":"unsubscribed","topic":`...)
	dst = appendJSONString(dst, topic)
	dst = append(dst, `,"error":`...)
	dst = appendJSONString(dst, reason)
	return append(dst, '}')
}

// AppendOpen appends the first object of a stream, {"op":"open","sid":S}:
// the session id for /send. A subscribed (or reset) object for each
// subscription follows it.
func AppendOpen(dst []byte, sid string) []byte {
	dst = append(dst, `{"op":"open","sid":`...)
	dst = appendJSONString(dst, sid)
	return append(dst, '}')
}

// AppendMessageObject appends {"op":"message","data":...} (or data_b64):
// a message for one session, such as a command reply.
func AppendMessageObject(dst, payload []byte) []byte {
	dst = append(dst, `{"op":"message"`...)
	return appendData(dst, payload)
}

// PingObject is the heartbeat of an NDJSON stream.
const PingObject = `{"op":"ping"}`

// AppendPollReply appends a poll reply: {"cursor":C,"messages":[items],
// "more":true}, where items are JSON objects already joined by commas, and
// "more" appears only when set.
func AppendPollReply(dst, cursor, items []byte, more bool) []byte {
	dst = append(dst, `{"cursor":"`...)
	dst = append(dst, cursor...) // base64url: nothing to escape
	dst = append(dst, `","messages":[`...)
	dst = append(dst, items...)
	dst = append(dst, ']')
	if more {
		dst = append(dst, `,"more":true`...)
	}
	return append(dst, '}')
}

// AppendSSE appends one Server-Sent Events event: an "event:" line when
// event is not empty, data split into "data:" lines at line breaks, an
// "id:" line when id is not empty, and the blank line that dispatches the
// event (WHATWG HTML, "Server-sent events"). id must hold no line break.
func AppendSSE(dst []byte, event string, data, id []byte) []byte {
	dst = AppendSSEHead(dst, event)
	dst = AppendSSEData(dst, data)
	return AppendSSETail(dst, id)
}

// AppendSSEHead appends the "event:" line of an event, if any.
func AppendSSEHead(dst []byte, event string) []byte {
	if event == "" {
		return dst
	}
	dst = append(dst, "event: "...)
	dst = append(dst, event...)
	return append(dst, '\n')
}

// AppendSSEData appends data as "data:" lines, one per line of data (CR,
// LF and CRLF all end a line).
func AppendSSEData(dst, data []byte) []byte {
	for {
		i := bytes.IndexAny(data, "\r\n")
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			return append(dst, '\n')
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// AppendSSETail appends the "id:" line, when id is not empty, and the
// blank line that ends the event.
func AppendSSETail(dst, id []byte) []byte {
	if len(id) > 0 {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

// SSEHeartbeat is a comment line: browsers ignore it, and proxies see the
// stream is alive.
const SSEHeartbeat = ":\n\n"

// MaxCallbackLen bounds a JSONP or iframe callback name.
const MaxCallbackLen = 128

// ValidCallback reports whether name is a JavaScript identifier or a dotted
// path of them (a.b.c), ASCII only, at most MaxCallbackLen bytes: nothing
// that could close the call or start another statement.
func ValidCallback(name []byte) bool {
	if len(name) == 0 || len(name) > MaxCallbackLen {
		return false
	}
	start := true
	for _, c := range name {
		switch {
		case c == '.':
			if start {
				return false
			}
			start = true
			continue
		case c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9':
			if start {
				return false
			}
		default:
			return false
		}
		start = false
	}
	return !start
}

// PolicyRequest is what the web-socket-js Flash fallback sends first: Flash
// asks for a socket policy before it lets a page open a socket.
const PolicyRequest = "<policy-file-request/>\x00"

// IsPolicyRequest reports whether b, the first bytes of a connection, is
// (a prefix of, with more false) the Flash policy request.
func IsPolicyRequest(b []byte) (match, more bool) {
	n := min(len(b), len(PolicyRequest))
	if string(b[:n]) != PolicyRequest[:n] {
		return false, false
	}
	return n == len(PolicyRequest), n < len(PolicyRequest)
}

// AppendPolicy appends a cross-domain socket policy that lets pages from
// domains (Flash patterns such as "*" or "*.example.com") open sockets to
// ports (such as "8080" or "*"), ending in the NUL byte Flash expects.
func AppendPolicy(dst []byte, domains []string, ports string) []byte {
	dst = append(dst, `<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM "/xml/dtds/cross-domain-policy.dtd"><cross-domain-policy>`...)
	for _, d := range domains {
		dst = append(dst, `<allow-access-from domain="`...)
		dst = appendXMLAttr(dst, d)
		dst = append(dst, `" to-ports="`...)
		dst = appendXMLAttr(dst, ports)
		dst = append(dst, `"/>`...)
	}
	return append(dst, "</cross-domain-policy>\x00"...)
}

// appendXMLAttr appends s escaped for a double-quoted XML attribute.
func appendXMLAttr(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			dst = append(dst, "&quot;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
