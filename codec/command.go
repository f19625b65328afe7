package codec

import (
	"bytes"
	"encoding/json"
	"io"
)

// The keys of a command object, in the order of decodeCommand's table.
const (
	keyOp = iota
	keyTopic
	keyID
	keyData
	keySince
	keyEpoch
	keyToken
	numCommandKeys
)

// decodeCommand decodes a command object into c. Its keys must be op,
// topic, id, data, since, epoch and token, spelt exactly so (compared after JSON unescaping,
// as any case-sensitive JSON parser does), each at most once; nothing may
// follow the object. encoding/json alone would match keys case-
// insensitively ("topiC" as topic), let a repeated key win over the first
// and ignore unknown ones, so a proxy that filters commands could read
// another command than the server acts on.
func decodeCommand(data []byte, c *Command) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ErrBadCommand
	}
	var seen [numCommandKeys]bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ErrBadCommand
		}
		var k int
		var dst any
		switch t {
		case "op":
			k, dst = keyOp, &c.Op
		case "topic":
			k, dst = keyTopic, &c.Topic
		case "id":
			k, dst = keyID, &c.ID
		case "data":
			k, dst = keyData, &c.Data
		case "since":
			k, dst = keySince, &c.Since
		case "epoch":
			k, dst = keyEpoch, &c.Epoch
		case "token":
			k, dst = keyToken, &c.Token
		default:
			return ErrBadCommand
		}
		if seen[k] {
			return ErrBadCommand
		}
		seen[k] = true
		if dec.Decode(dst) != nil {
			return ErrBadCommand
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return ErrBadCommand
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrBadCommand // something follows the object
	}
	return nil
}
