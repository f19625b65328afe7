package codec

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

func TestUTF8MatchesStdlib(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 0x7f, 0x80, 0xbf, 0xc2, 0xce, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0xc0}
	for i := 0; i < 20000; i++ {
		p := make([]byte, rng.IntN(12))
		for j := range p {
			p[j] = alphabet[rng.IntN(len(alphabet))]
		}
		if got, want := ValidUTF8(p), utf8.Valid(p); got != want {
			t.Fatalf("% x: ValidUTF8 %v, utf8.Valid %v", p, got, want)
		}
		// Split at every point: the state carries across.
		for k := 0; k <= len(p); k++ {
			s, ok := UTF8State(0).Feed(p[:k])
			if ok {
				s, ok = s.Feed(p[k:])
			}
			if got := ok && s.Complete(); got != utf8.Valid(p) {
				t.Fatalf("% x split at %d: %v", p, k, got)
			}
		}
	}
}

// TestUTF8FailFast: an invalid prefix fails by itself, before the rest.
func TestUTF8FailFast(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"\xed\xa0", "\xe0\x80", "\xf4\x90", "\xf5", "\xc0", "\x80", "\xf0\x80"} {
		if _, ok := UTF8State(0).Feed([]byte(prefix)); ok {
			t.Errorf("% x accepted as a prefix", prefix)
		}
	}
	for _, prefix := range []string{"\xed\x9f", "\xe0\xa0", "\xf4\x8f", "\xf0\x90\x80"} {
		if s, ok := UTF8State(0).Feed([]byte(prefix)); !ok || s.Complete() {
			t.Errorf("% x: ok=%v complete=%v, want a valid incomplete prefix", prefix, ok, s.Complete())
		}
	}
}

func TestEnvelopeAndCommands(t *testing.T) {
	t.Parallel()
	if got := string(AppendEnvelope(nil, "a\"b", "", 3, []byte("x\n<"))); got != `{"topic":"a\"b","offset":3,"data":"x\n\u003c"}` {
		t.Fatalf("envelope %s", got)
	}
	c, err := ParseCommand([]byte(`{"op":"publish","topic":"t","data":"hi","id":7}`))
	if err != nil || string(c.PublishPayload()) != "hi" || string(c.ID) != "7" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, _ := ParseCommand([]byte(`{"op":"publish","topic":"t","data":{"k":1}}`)); string(c.PublishPayload()) != `{"k":1}` {
		t.Fatalf("object payload %q", c.PublishPayload())
	}
	for _, bad := range []string{`{}`, `{"op":"subscribe"}`, `{"op":"subscribe","topic":"a b"}`, `{"op":"subscribe","topic":"$x"}`, `{"op":"drop","topic":"a"}`, `[`} {
		if _, err := ParseCommand([]byte(bad)); err != ErrBadCommand {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if got := string(AppendReply(nil, []byte(`"x"`), "no")); got != `{"op":"error","id":"x","error":"no"}` {
		t.Fatalf("reply %s", got)
	}
}
