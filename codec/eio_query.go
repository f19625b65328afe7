package codec

import (
	"bytes"
	"net/url"
)

// EIOQuery is what an Engine.IO request says in its query string. Absent
// parameters are empty; a parameter given twice counts with its last
// value, as the reference server reads it.
type EIOQuery struct {
	EIO       string // the protocol revision: "4"
	Transport string // "polling" or "websocket"
	SID       string // the session, on every request after the handshake
}

// ParseEIOQuery reads the parameters of an Engine.IO request from its raw
// query, unescaped as a form; the others (the client's cache-buster t=,
// anything an application adds) are skipped. A bad percent escape in one
// of the three is ErrEIOQuery. Safe for concurrent use.
func ParseEIOQuery(raw []byte) (EIOQuery, error) {
	var q EIOQuery
	for len(raw) > 0 {
		var pair []byte
		pair, raw, _ = bytes.Cut(raw, []byte{'&'})
		key, value, _ := bytes.Cut(pair, []byte{'='})
		var dst *string
		switch string(key) {
		case "EIO":
			dst = &q.EIO
		case "transport":
			dst = &q.Transport
		case "sid":
			dst = &q.SID
		default:
			continue
		}
		if bytes.IndexByte(value, '%') < 0 && bytes.IndexByte(value, '+') < 0 {
			*dst = string(value)
			continue
		}
		v, err := url.QueryUnescape(string(value))
		if err != nil {
			return EIOQuery{}, ErrEIOQuery
		}
		*dst = v
	}
	return q, nil
}
