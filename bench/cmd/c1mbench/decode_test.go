package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/c1mhq/c1m/bench/loadgen"
)

// TestPayload: both forms decode to what was encoded; the text form is
// valid UTF-8 that JSON carries unescaped.
func TestPayload(t *testing.T) {
	t.Parallel()
	for _, size := range []int{minText, 64, 300} {
		p := make([]byte, size)
		at := encodeText(p, 0x0123456789abcdef, kindBurst)
		seq, sent, kind, ok := decodePayload(p)
		if !ok || seq != 0x0123456789abcdef || sent != at.UnixNano() || kind != kindBurst {
			t.Fatalf("text %q: %x %d %d %v", p, seq, sent, kind, ok)
		}
		quoted, _ := json.Marshal(string(p))
		if !utf8.Valid(p) || string(quoted) != `"`+string(p)+`"` {
			t.Fatalf("text %q needs escaping in JSON: %s", p, quoted)
		}
	}
	b := make([]byte, minPayload)
	at := encodePayload(b, 7, kindEcho)
	if seq, sent, kind, ok := decodePayload(b); !ok || seq != 7 || sent != at.UnixNano() || kind != kindEcho {
		t.Fatalf("binary: %d %d %d %v", seq, sent, kind, ok)
	}
	for _, bad := range []string{"", "hello", strings.Repeat("z", 40), strings.Repeat("0", 32) + "x"} {
		if _, _, _, ok := decodePayload([]byte(bad)); ok {
			t.Errorf("decoded %q", bad)
		}
	}
}

// TestJSONField: fields at the top level only, whatever comes before
// them, and no panic on malformed input.
func TestJSONField(t *testing.T) {
	t.Parallel()
	doc := ` { "a" : [1, {"data":"no"}, "]"], "s":"x\"}y", "n":-1.5e3, "t":true, "o":{"data":"inner"}, "data":"top", "offset":42 } `
	cases := []struct{ key, want string }{
		{"data", `"top"`}, {"offset", "42"}, {"o", `{"data":"inner"}`}, {"s", `"x\"}y"`}, {"n", "-1.5e3"}, {"t", "true"},
		{"a", `[1, {"data":"no"}, "]"]`},
	}
	for _, c := range cases {
		if v, ok := jsonField([]byte(doc), c.key); !ok || string(v) != c.want {
			t.Errorf("%s: %q %v, want %q", c.key, v, ok, c.want)
		}
	}
	if _, ok := jsonField([]byte(doc), "missing"); ok {
		t.Error("found a missing key")
	}
	if s, ok := jsonString([]byte(`"x\"}y\u0041"`)); !ok || string(s) != `x"}yA` {
		t.Errorf("escaped string: %q %v", s, ok)
	}
	for i := range len(doc) { // every truncation: no panic
		jsonField([]byte(doc[:i]), "offset")
		jsonEach([]byte(doc[:i]), func([]byte) bool { return true })
	}
	var elems []string
	if !jsonEach([]byte(`[ {"a":1} , "b",3,[4]]`), func(e []byte) bool { elems = append(elems, string(e)); return true }) ||
		!slices.Equal(elems, []string{`{"a":1}`, `"b"`, "3", "[4]"}) {
		t.Errorf("elements %q", elems)
	}
	if !jsonEach([]byte(`[]`), func([]byte) bool { t.Error("an element in []"); return true }) {
		t.Error("[] is not an array")
	}
}

// dialectHandler is a workerHandler with no loop behind it, for the
// decoding alone.
func dialectHandler(dialect string) *workerHandler {
	return &workerHandler{
		scenario: "hold", dialect: dialect, clients: make([]client, 1),
		hists: map[byte]*hdrhistogram.Histogram{kindSingle: newHist()},
	}
}

// TestC1mObjects: envelopes (data and data_b64) are publications with
// their offsets; open, subscribed and reset set the position; a reset is
// counted; other objects are not publications.
func TestC1mObjects(t *testing.T) {
	t.Parallel()
	p := make([]byte, 40)
	encodeText(p, 5, kindSingle)
	b64, _ := json.Marshal(p) // []byte marshals as base64
	h := dialectHandler(dialectC1m)
	c := &loadgen.Conn{}
	for _, obj := range []string{
		`{"op":"subscribed","topic":"t","epoch":"E","offset":3}`,
		`{"topic":"t","offset":4,"epoch":"E","data":"` + string(p) + `"}`,
		`{"topic":"t","offset":6,"epoch":"E","data_b64":` + string(b64) + `}`, // skips 5
		`{"op":"ping"}`,
		`{"op":"message","data":"for the session"}`,
		`{"op":"reset","topic":"t","epoch":"F","offset":10}`,
		`{"topic":"t","offset":11,"epoch":"F","data":"` + string(p) + `"}`,
		`{"topic":"t","offset":12}`,
	} {
		h.c1mObject(c, []byte(obj))
	}
	if h.received != 3 || h.offsetGaps != 1 || h.offsetBack != 0 || h.resets != 1 || h.undecoded != 1 || h.clients[0].offset != 11 {
		t.Fatalf("received %d gaps %d back %d resets %d undecoded %d offset %d, want 3 1 0 1 1 11",
			h.received, h.offsetGaps, h.offsetBack, h.resets, h.undecoded, h.clients[0].offset)
	}
}

// TestCentrifugoPushes: WebSocket pushes and uni_sse pushes carry the
// payload in pub.data; a push without pub is not a publication.
func TestCentrifugoPushes(t *testing.T) {
	t.Parallel()
	p := make([]byte, 40)
	encodeText(p, 9, kindSingle)
	h := dialectHandler(dialectCentrifugo)
	c := &loadgen.Conn{}
	h.centrifugoReply(c, []byte(`{"push":{"channel":"bench:t","pub":{"data":"`+string(p)+`","offset":2}}}`))
	h.centrifugoReply(c, []byte(`{"push":{"channel":"bench:t","join":{"info":{}}}}`))
	h.Event(c, &loadgen.Event{Data: []byte(`{"channel":"bench:t","pub":{"data":"` + string(p) + `"}}`)})
	h.Event(c, &loadgen.Event{Data: []byte(`{}`)})
	if h.received != 2 || h.undecoded != 0 || h.clients[0].offset != 2 {
		t.Fatalf("received %d undecoded %d offset %d", h.received, h.undecoded, h.clients[0].offset)
	}
}
