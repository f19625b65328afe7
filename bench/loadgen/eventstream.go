package loadgen

import (
	"bytes"
	"strconv"
)

// The text/event-stream format (the HTML standard's "Server-sent events",
// §9.2.6 "Interpreting an event stream"), parsed from a response body fed
// in pieces split anywhere. Pure: no socket, no clock.

// maxEventLine bounds one line of an event stream (and so one data line);
// a longer one ends the connection with a ProtocolError.
const maxEventLine = 1 << 20

// Event is one dispatched server-sent event. Its slices are valid only
// until the handler returns.
type Event struct {
	// Type is the event: field, empty for the default "message".
	Type []byte
	// ID is the last event ID: the latest id: field of the stream so
	// far, as the standard keeps it across events.
	ID []byte
	// Data is the event's data: lines joined with "\n".
	Data []byte
}

// eventParser assembles events from body bytes. The zero value is ready.
type eventParser struct {
	line    []byte // an incomplete line carried to the next piece
	data    []byte // the data buffer: each data: value followed by "\n"
	typ     []byte // the event type buffer
	id      []byte // the last event ID buffer
	skipLF  bool   // the last piece ended with CR: an LF first ends no line
	started bool   // the first line was seen (its BOM, if any, dropped)
}

var bom = []byte("\xEF\xBB\xBF")

// feed parses b, calling emit for each event completed in it. It stops at
// the first error (a line over maxEventLine) or when emit returns false.
func (p *eventParser) feed(b []byte, emit func(*Event) bool) error {
	for len(b) > 0 {
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			if len(p.line)+len(b) > maxEventLine {
				return ProtocolError("event stream line over " + strconv.Itoa(maxEventLine) + " bytes")
			}
			p.line = append(p.line, b...)
			return nil
		}
		line := b[:i]
		if len(p.line) > 0 {
			p.line = append(p.line, line...)
			line = p.line
		}
		if b[i] == '\r' {
			if i+1 == len(b) {
				p.skipLF = true // CRLF split between pieces
			} else if b[i+1] == '\n' {
				i++
			}
		}
		b = b[i+1:]
		ok := p.process(line, emit)
		p.line = p.line[:0]
		if !ok {
			return nil
		}
	}
	return nil
}

// process handles one complete line; false when emit asked to stop.
func (p *eventParser) process(line []byte, emit func(*Event) bool) bool {
	if !p.started {
		p.started = true
		line = bytes.TrimPrefix(line, bom)
	}
	if len(line) == 0 {
		return p.dispatch(emit)
	}
	if line[0] == ':' {
		return true // a comment: heartbeats
	}
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(field) {
	case "event":
		p.typ = append(p.typ[:0], value...)
	case "data":
		p.data = append(append(p.data, value...), '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = append(p.id[:0], value...)
		}
	}
	// retry: and unknown fields are ignored.
	return true
}

func (p *eventParser) dispatch(emit func(*Event) bool) bool {
	if len(p.data) == 0 {
		p.typ = p.typ[:0]
		return true
	}
	ev := Event{Type: p.typ, ID: p.id, Data: p.data[:len(p.data)-1]}
	ok := emit(&ev)
	p.data, p.typ = p.data[:0], p.typ[:0]
	return ok
}
