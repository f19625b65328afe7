package session

import (
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// NumForms is how many wire forms a publication can be encoded in: a
// transport names its form by an index below it (see FormWS* in server).
const NumForms = 10

// Publication is one message published to a topic (or broadcast). It is
// immutable once published and shared by every shard: each wire form is
// encoded once, by the first shard that needs it, and the bytes are then
// shared by every subscriber that uses that form.
type Publication struct {
	Topic  string    // "" for a broadcast
	Offset uint64    // position in the topic, from 1; 0 for a broadcast
	Epoch  string    // the topic's numbering (see Hub.Position); "" for a broadcast
	Data   []byte    // the published bytes
	Text   bool      // Data is valid UTF-8: WebSocket text, else binary
	At     time.Time // when it was published, for the fan-out latency
	// Order is the publication's place in the node's order of
	// publications across topics (order.go), from 1; 0 for a broadcast.
	Order uint64

	// from is the node-wide topic entry that numbered it: a shard delivers
	// it only to subscribers of that same entry, never to those of a later
	// one that restarted the numbering after the topic was forgotten.
	from  *hubTopic
	forms [NumForms]encoded
	// formBytes is the capacity of the forms encoded so far, which the
	// backlog counts while the publication waits for its writes.
	formBytes atomic.Int64
}

type encoded struct {
	once sync.Once
	b    []byte
}

// NewPublication returns a publication of data to topic at offset. It keeps
// data: the caller must not modify it afterwards.
func NewPublication(topic string, offset uint64, data []byte) *Publication {
	return &Publication{Topic: topic, Offset: offset, Data: data, Text: utf8.Valid(data), At: time.Now()}
}

// Encoded returns the publication in wire form form, encoding it with
// encode the first time. The result is shared: callers must not modify it.
// Safe for concurrent use.
func (p *Publication) Encoded(form int, encode func(*Publication) []byte) []byte {
	e := &p.forms[form]
	e.once.Do(func() {
		e.b = encode(p)
		p.formBytes.Add(int64(cap(e.b)))
	})
	return e.b
}
