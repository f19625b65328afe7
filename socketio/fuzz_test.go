package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse feeds Parse any bytes: it must not panic, and a packet it
// accepts must encode back (AppendPacket) to bytes that parse to the same
// packet, with a payload of the shape its type needs.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", `0{"token":"123"}`, "0/custom,", `0/custom,{"token":"abc"}`, "0/random",
		"1", "1/custom,", `2["message",1,"2",{"3":[true]}]`, `2456["message-with-ack",1]`,
		`3456[1,"2"]`, `452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`52-789["m",{"_placeholder":true,"num":0}]`, `62-789[{"_placeholder":true,"num":0}]`,
		`4{"message":"x"}`, "abc", "2{}", `2abc["m"]`, `2[{}]`, `2["connect"]`, `51["m"]`,
		`2/a,12345678901234567["m"]`, `2[5]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b, DefaultMaxAttachments)
		if err != nil {
			return
		}
		if p.Attachments < 0 || p.Attachments > DefaultMaxAttachments {
			t.Fatalf("attachments %d", p.Attachments)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("invalid JSON accepted: %q", p.Data)
		}
		out := AppendPacket(nil, &p)
		q, err := Parse(out, DefaultMaxAttachments)
		if err != nil {
			t.Fatalf("re-encoded %q of %q does not parse: %v", out, b, err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.HasID != p.HasID || q.ID != p.ID ||
			q.Attachments != p.Attachments || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("round trip of %q: %+v != %+v", b, q, p)
		}
		if (p.Type == TypeEvent || p.Type == TypeBinaryEvent) && p.Data != nil {
			if _, _, err := EventName(p.Data); err != nil {
				t.Fatalf("event %q has no name: %v", p.Data, err)
			}
		}
	})
}

// FuzzPlaceholders checks that the placeholder check never panics and
// accepts only indexes below the attachment count.
func FuzzPlaceholders(f *testing.F) {
	f.Add([]byte(`["m",{"_placeholder":true,"num":0}]`), 1)
	f.Add([]byte(`["m",{"a":[{"_placeholder":true,"num":1.5}]}]`), 2)
	f.Add([]byte(`{"_placeholder":true}`), 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > DefaultMaxAttachments {
			return
		}
		if checkPlaceholders(b, n) == nil && !json.Valid(b) {
			t.Fatalf("invalid JSON %q accepted", b)
		}
	})
}
