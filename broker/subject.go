package broker

import "strings"

// broadcastToken is the subject token of a broadcast. A topic cannot
// encode to it: '_' is escaped in topic names.
const broadcastToken = "_"

// maxTopicBytes bounds what a decoded token may hold: a client topic is at
// most 256 bytes (codec.MaxTopicLen), an internal one (a user's sessions,
// "$user:" and a JWT sub) a little more.
const maxTopicBytes = 1024

// encodeTopic returns the NATS subject token of a topic: letters, digits,
// '-' and ':' as they are, every other byte as '%' and two upper-case hex
// digits, so that '.', '*', '>' and spaces never reach a subject, and the
// empty topic (a broadcast) is "_". One-to-one: decodeTopic inverts it.
func encodeTopic(topic string) string {
	if topic == "" {
		return broadcastToken
	}
	plain := true
	for i := 0; i < len(topic); i++ {
		if !plainByte(topic[i]) {
			plain = false
			break
		}
	}
	if plain {
		return topic
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(topic) * 3)
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ':'
}

// decodeTopic inverts encodeTopic; a token it could not have made (a
// stray byte, lower-case or bad hex, an escape of a plain byte, too long)
// is ErrBadSubject.
func decodeTopic(tok string) (string, error) {
	if tok == broadcastToken {
		return "", nil
	}
	if tok == "" || len(tok) > 3*maxTopicBytes {
		return "", ErrBadSubject
	}
	var b []byte
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if plainByte(c) {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if c != '%' || i+2 >= len(tok) {
			return "", ErrBadSubject
		}
		hi, ok1 := unhex(tok[i+1])
		lo, ok2 := unhex(tok[i+2])
		v := hi<<4 | lo
		if !ok1 || !ok2 || plainByte(v) {
			return "", ErrBadSubject
		}
		if b == nil {
			b = append(make([]byte, 0, len(tok)), tok[:i]...)
		}
		b = append(b, v)
		i += 2
	}
	if b == nil {
		return tok, nil
	}
	if len(b) > maxTopicBytes {
		return "", ErrBadSubject
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
