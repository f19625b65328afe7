package loadgen

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

type sseEvent struct{ typ, id, data string }

func parseEvents(t *testing.T, pieces [][]byte) []sseEvent {
	t.Helper()
	var p eventParser
	var got []sseEvent
	for _, piece := range pieces {
		err := p.feed(piece, func(ev *Event) bool {
			got = append(got, sseEvent{string(ev.Type), string(ev.ID), string(ev.Data)})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// TestEventStream: the same events come out however the stream is split,
// by the rules of the HTML standard's event stream interpretation.
func TestEventStream(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stream string
		want   []sseEvent
	}{
		{"one event", "data: hello\n\n", []sseEvent{{"", "", "hello"}}},
		{"data lines join with LF", "data: a\ndata: b\n\n", []sseEvent{{"", "", "a\nb"}}},
		{"CRLF inside an event is one line end", "data: a\r\ndata: b\r\n\r\n", []sseEvent{{"", "", "a\nb"}}},
		{"CRLF, CR and LF end lines", "data: a\r\n\r\ndata: b\r\rdata:c\n\n", []sseEvent{{"", "", "a"}, {"", "", "b"}, {"", "", "c"}}},
		{
			"type and id; the id stays, the type does not",
			"event: open\nid: 7\ndata: {}\n\ndata: x\n\n",
			[]sseEvent{{"open", "7", "{}"}, {"", "7", "x"}},
		},
		{"comments and retry dispatch nothing", ": heartbeat\nretry: 2000\n\n:\n\n", nil},
		{"one leading space is dropped, not two", "data:x\n\ndata:  y\n\n", []sseEvent{{"", "", "x"}, {"", "", " y"}}},
		{"a field without colon is an empty value", "data\n\n", []sseEvent{{"", "", ""}}},
		{"no data: no event, and the type is reset", "event: foo\n\ndata: y\n\n", []sseEvent{{"", "", "y"}}},
		{"a BOM at the start is dropped", "\xEF\xBB\xBFdata: z\n\n", []sseEvent{{"", "", "z"}}},
		{"an id with NUL is ignored", "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", []sseEvent{{"", "1", "a"}, {"", "1", "b"}}},
		{"an unfinished event is not dispatched", "data: done\n\ndata: q\n", []sseEvent{{"", "", "done"}}},
		{"unknown fields are ignored", "foo: bar\ndata: a\n\n", []sseEvent{{"", "", "a"}}},
		{
			"Centrifugo's uni_sse: a blank line first",
			"\r\ndata: {\"connect\":{\"client\":\"x\"}}\n\ndata: {\"channel\":\"c\",\"pub\":{\"data\":\"1\"}}\n\n",
			[]sseEvent{{"", "", `{"connect":{"client":"x"}}`}, {"", "", `{"channel":"c","pub":{"data":"1"}}`}},
		},
		{
			"c1m's /sse: retry, open, envelopes with cursor ids",
			"retry: 2000\n\nevent: open\ndata: {\"op\":\"open\"}\n\nid: c1\ndata: {\"offset\":1}\n\n: ping\n\nid: c2\ndata: {\"offset\":2}\n\n",
			[]sseEvent{{"open", "", `{"op":"open"}`}, {"", "c1", `{"offset":1}`}, {"", "c2", `{"offset":2}`}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for how, pieces := range splits(c.stream) {
				if got := parseEvents(t, pieces); !slices.Equal(got, c.want) {
					t.Fatalf("%s: got %q, want %q", how, got, c.want)
				}
			}
		})
	}
}

// TestEventStreamStop: emit returning false stops the parse (the
// connection was closed in the handler).
func TestEventStreamStop(t *testing.T) {
	t.Parallel()
	var p eventParser
	n := 0
	_ = p.feed([]byte("data: a\n\ndata: b\n\n"), func(*Event) bool { n++; return false })
	if n != 1 {
		t.Fatalf("%d events after a stop", n)
	}
}

// TestEventStreamLongLine: a line over maxEventLine is refused, whether
// it comes whole or in pieces.
func TestEventStreamLongLine(t *testing.T) {
	t.Parallel()
	long := []byte("data: " + strings.Repeat("x", maxEventLine))
	for _, pieces := range [][][]byte{{long}, {long[:100], long[100:]}} {
		var p eventParser
		var err error
		for _, piece := range pieces {
			if err = p.feed(piece, func(*Event) bool { return true }); err != nil {
				break
			}
		}
		var pe ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("err %v, want a ProtocolError", err)
		}
	}
}
