package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// A small JSON scanner for what the workers read on the hot path (c1m's
// envelopes, Centrifugo's pushes): it finds a field of an object without
// decoding the rest, at a fraction of encoding/json's cost per message,
// so the generator's CPU stays on the sockets. It checks only what it
// walks; a malformed document gives ok false, never a panic.

// jsonField returns the raw value of key in the object obj (its top
// level), and whether it is there.
func jsonField(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false
	}
	for i < len(obj) {
		kEnd, ok := skipString(obj, i)
		if !ok {
			return nil, false
		}
		k := obj[i+1 : kEnd-1]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
		vEnd, ok := skipValue(obj, i)
		if !ok {
			return nil, false
		}
		if string(k) == key { // no escapes in the keys we look for
			return obj[i:vEnd], true
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
	}
	return nil, false
}

// jsonEach calls fn with each element of the array arr until fn returns
// false; ok is false when arr is not an array.
func jsonEach(arr []byte, fn func(elem []byte) bool) bool {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return false
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return true
	}
	for i < len(arr) {
		end, ok := skipValue(arr, i)
		if !ok {
			return false
		}
		if !fn(arr[i:end]) {
			return true
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ']' {
			return true
		}
		if i >= len(arr) || arr[i] != ',' {
			return false
		}
		i = skipSpace(arr, i+1)
	}
	return false
}

// jsonString returns a string value's contents: in place when it has no
// escapes, decoded otherwise.
func jsonString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// jsonUint returns a non-negative integer value.
func jsonUint(v []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// jsonBase64 returns a base64 string value's bytes (c1m's data_b64).
func jsonBase64(v []byte) ([]byte, bool) {
	s, ok := jsonString(v)
	if !ok {
		return nil, false
	}
	out, err := base64.StdEncoding.AppendDecode(nil, s)
	return out, err == nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default: // number, true, false, null
		j := i
	scan:
		for ; j < len(b); j++ {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				break scan
			}
		}
		return j, j > i
	}
}
