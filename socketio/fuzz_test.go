package socketio

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/c1mhq/c1m/session"
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
		binary := p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck
		if binary && p.Attachments == 0 {
			t.Fatalf("a binary packet without attachments accepted: %q", b)
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

// FuzzClient feeds a client any sequence of Engine.IO messages (split on
// 0x1e; one starting with 0x00 is binary) after a CONNECT to "/": the
// layer must not panic, and whatever it closes or answers, a second
// client on the same loop is still served.
func FuzzClient(f *testing.F) {
	for _, s := range []string{
		"2[\"message\",1]", "0/custom,\x1e2/custom,[\"x\"]\x1e1/custom,",
		"51-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1e\x00\x01\x02",
		"52-7[\"message-with-ack\",{\"_placeholder\":true,\"num\":1}]\x1e\x00a\x1e\x00b",
		"3[]\x1e31[1]\x1e1\x1e0", "2[\"message-with-ack\"]\x1e29[\"message-with-ack\",{}]",
		"0{\"pid\":\"x\",\"offset\":\"AQ\"}", "4{}",
	} {
		f.Add([]byte(s))
	}
	r := newRig(f, suiteServer(&Config{Recovery: &RecoveryConfig{}}), session.HistoryConfig{Size: 4})
	witness := connectMain(r)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := r.open()
		c.send("0")
		for _, m := range bytes.Split(in, []byte{0x1e}) {
			if len(m) > 0 && m[0] == 0 {
				c.sendBinary(m[1:])
			} else {
				c.send(string(m))
			}
		}
		c.drop()
		witness.send(`2["message","w"]`)
		// The witness reads its own answers; the fuzzed client's do not
		// reach it.
		r.t = t
		witness.r.t = t
		witness.expect(`2["message-back","w"]`)
	})
}
