package socketio

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Args are the arguments of an event or an ack: each a JSON value, where a
// binary attachment stands as the placeholder {"_placeholder":true,"num":N}
// for Binary[N], as on the wire.
type Args struct {
	JSON   []json.RawMessage
	Binary [][]byte
}

// Len returns the number of arguments. Safe for concurrent use.
func (a Args) Len() int { return len(a.JSON) }

// Decode unmarshals argument i into v. A placeholder decodes as a JSON
// object: take its bytes with Bytes. Safe for concurrent use.
func (a Args) Decode(i int, v any) error {
	if i >= len(a.JSON) {
		return fmt.Errorf("socketio: no argument %d of %d", i, len(a.JSON))
	}
	return json.Unmarshal(a.JSON[i], v)
}

// String returns argument i when it is a JSON string, and whether it is.
// Safe for concurrent use.
func (a Args) String(i int) (string, bool) {
	var s string
	if i >= len(a.JSON) || jsonKind(a.JSON[i]) != '"' || json.Unmarshal(a.JSON[i], &s) != nil {
		return "", false
	}
	return s, true
}

// Bytes returns the attachment argument i stands for, when it is a
// placeholder. Safe for concurrent use.
func (a Args) Bytes(i int) ([]byte, bool) {
	if i >= len(a.JSON) || jsonKind(a.JSON[i]) != '{' {
		return nil, false
	}
	var ph placeholder
	if json.Unmarshal(a.JSON[i], &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 || *ph.Num >= len(a.Binary) {
		return nil, false
	}
	return a.Binary[*ph.Num], true
}

type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         *int `json:"num"`
}

// MakeArgs builds Args from Go values: a []byte becomes a binary
// attachment, a json.RawMessage is taken as it is (it must be valid JSON),
// anything else is marshalled with encoding/json. Safe for concurrent use.
func MakeArgs(values ...any) (Args, error) {
	a := Args{JSON: make([]json.RawMessage, 0, len(values))}
	for _, v := range values {
		switch v := v.(type) {
		case json.RawMessage:
			if !json.Valid(v) {
				return Args{}, ErrBadPayload
			}
			a.JSON = append(a.JSON, v)
		case []byte:
			a.JSON = append(a.JSON, appendPlaceholder(nil, len(a.Binary)))
			a.Binary = append(a.Binary, v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return Args{}, err
			}
			a.JSON = append(a.JSON, b)
		}
	}
	return a, nil
}

func appendPlaceholder(dst []byte, n int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '}')
}

// appendArray appends [head, args...] (head omitted when nil).
func appendArray(dst, head []byte, args []json.RawMessage) []byte {
	dst = append(dst, '[')
	if head != nil {
		dst = append(dst, head...)
	}
	for i, a := range args {
		if i > 0 || head != nil {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// checkPlaceholders checks that every placeholder in data, at any depth,
// names an attachment below n, as the reference reconstruction does.
func checkPlaceholders(data []byte, n int) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return ErrBadPayload
	}
	if !placeholdersOK(v, n) {
		return ErrBadPlaceholder
	}
	return nil
}

func placeholdersOK(v any, n int) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if !placeholdersOK(e, n) {
				return false
			}
		}
	case map[string]any:
		if v["_placeholder"] == true {
			num, ok := v["num"].(float64)
			return ok && num >= 0 && num < float64(n) && num == float64(int(num))
		}
		for _, e := range v {
			if !placeholdersOK(e, n) {
				return false
			}
		}
	}
	return true
}
