package codec

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// rawCursor builds the bytes a cursor encodes, field by field: a byte is
// written as is (the version, a one-byte uvarint), a string as its bytes.
func rawCursor(fields ...any) []byte {
	var b []byte
	for _, f := range fields {
		switch f := f.(type) {
		case int:
			b = append(b, byte(f))
		case string:
			b = append(b, f...)
		case []byte:
			b = append(b, f...)
		}
	}
	return b
}

// cursorOf encodes raw cursor bytes the way AppendCursor does.
func cursorOf(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

func TestAppendCursor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ps   []Position
		raw  []byte
	}{
		{"none", nil, rawCursor(1)},
		{"one", []Position{{"news", "k3v9q0", 7}},
			rawCursor(1, 4, "news", 6, "k3v9q0", 7)},
		{"two, offsets of several bytes", []Position{{"news", "k3v9q0", 300}, {"a/b", "E", 1 << 63}},
			rawCursor(1, 4, "news", 6, "k3v9q0", 0xac, 0x02,
				3, "a/b", 1, "E", 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(AppendCursor([]byte("cursor="), tc.ps))
			if want := "cursor=" + cursorOf(tc.raw); got != want {
				t.Fatalf("AppendCursor = %q, want %q", got, want)
			}
			ps, err := ParseCursor(nil, []byte(strings.TrimPrefix(got, "cursor=")))
			if err != nil || !slices.Equal(ps, tc.ps) {
				t.Fatalf("ParseCursor = %v, %v; want %v", ps, err, tc.ps)
			}
		})
	}
}

// randomPositions returns n positions with valid topics and epochs of
// random lengths and bytes, and offsets spread over all of uint64.
func randomPositions(r *rand.Rand, n int) []Position {
	const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	ps := make([]Position, n)
	for i := range ps {
		topic := make([]byte, 1+r.IntN(MaxTopicLen))
		for j := range topic {
			topic[j] = byte('!' + r.IntN('~'-'!'+1)) // printable, no space
		}
		if topic[0] == '$' {
			topic[0] = 't'
		}
		epoch := make([]byte, 1+r.IntN(MaxEpochLen))
		for j := range epoch {
			epoch[j] = alnum[r.IntN(len(alnum))]
		}
		ps[i] = Position{string(topic), string(epoch), r.Uint64() >> r.IntN(64)}
	}
	return ps
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		n := r.IntN(8)
		if i%50 == 0 {
			n = r.IntN(MaxCursorTopics + 1)
		}
		ps := randomPositions(r, n)
		c := AppendCursor(nil, ps)
		for _, b := range c {
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
				t.Fatalf("cursor %q has %q, not safe in a URL or an SSE id", c, b)
			}
		}
		prefix := []Position{{"kept", "E", 1}}
		got, err := ParseCursor(slices.Clone(prefix), c)
		if err != nil || !slices.Equal(got[:1], prefix) || !slices.Equal(got[1:], ps) {
			t.Fatalf("%d positions: ParseCursor = %d positions, %v", len(ps), len(got)-1, err)
		}
		// The positions own their strings: the cursor's buffer may be reused.
		clear(c)
		if !slices.Equal(got[1:], ps) {
			t.Fatal("positions alias the cursor")
		}
	}
	// The largest cursor: every position at its longest.
	ps := make([]Position, MaxCursorTopics)
	for i := range ps {
		ps[i] = Position{strings.Repeat("t", MaxTopicLen-3) + string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + "x",
			strings.Repeat("e", MaxEpochLen), ^uint64(0)}
	}
	if got, err := ParseCursor(nil, AppendCursor(nil, ps)); err != nil || !slices.Equal(got, ps) {
		t.Fatalf("largest cursor: %d positions, %v", len(got), err)
	}
}

func TestParseCursorRejects(t *testing.T) {
	t.Parallel()
	one := rawCursor(1, 4, "news", 6, "k3v9q0", 7)
	valid := cursorOf(one)
	// A valid cursor whose encoding holds both characters that the
	// URL-safe alphabet has in place of the standard one's + and /.
	urlOnly := cursorOf(rawCursor(1, 6, "???>>>", 1, "E", 7))
	if urlOnly != "AQY_Pz8-Pj4BRQc" {
		t.Fatalf("fixture %q", urlOnly)
	}
	if _, err := ParseCursor(nil, []byte(urlOnly)); err != nil {
		t.Fatalf("fixture %q: %v", urlOnly, err)
	}
	many := rawCursor(1)
	for range MaxCursorTopics + 1 {
		many = append(many, rawCursor(4, "news", 1, "E", 0)...)
	}
	cases := []struct {
		name   string
		cursor string
	}{
		{"empty", ""},
		{"one character", "A"},
		{"not base64", "A*Q"},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(urlOnly)},
		{"padded", cursorOf(one) + "=="},
		{"trailing dot", valid + "."},
		{"version 0", cursorOf(rawCursor(0, 4, "news", 6, "k3v9q0", 7))},
		{"version 2", cursorOf(rawCursor(2, 4, "news", 6, "k3v9q0", 7))},
		{"truncated topic length", cursorOf(rawCursor(1, 0x80))},
		{"truncated topic", cursorOf(rawCursor(1, 4, "ne"))},
		{"no epoch", cursorOf(rawCursor(1, 4, "news"))},
		{"truncated epoch", cursorOf(rawCursor(1, 4, "news", 6, "k3v"))},
		{"no offset", cursorOf(rawCursor(1, 4, "news", 6, "k3v9q0"))},
		{"truncated offset", cursorOf(rawCursor(1, 4, "news", 6, "k3v9q0", 0x80))},
		{"offset past 64 bits", cursorOf(rawCursor(1, 4, "news", 6, "k3v9q0", 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02))},
		{"empty topic", cursorOf(rawCursor(1, 0, 6, "k3v9q0", 7))},
		{"topic with a space", cursorOf(rawCursor(1, 4, "ne s", 6, "k3v9q0", 7))},
		{"topic with a control byte", cursorOf(rawCursor(1, 4, "ne\ns", 6, "k3v9q0", 7))},
		{"reserved topic", cursorOf(rawCursor(1, 4, "$sys", 6, "k3v9q0", 7))},
		{"topic too long", cursorOf(rawCursor(1, 0x81, 0x02, strings.Repeat("t", MaxTopicLen+1), 6, "k3v9q0", 7))},
		{"empty epoch", cursorOf(rawCursor(1, 4, "news", 0, 7))},
		{"epoch with a dash", cursorOf(rawCursor(1, 4, "news", 6, "k3v-q0", 7))},
		{"epoch not ASCII", cursorOf(rawCursor(1, 4, "news", 2, "\xc3\xa9", 7))},
		{"epoch too long", cursorOf(rawCursor(1, 4, "news", 17, strings.Repeat("e", 17), 7))},
		{"a trailing byte", cursorOf(append(one, 0))},
		{"a second position cut short", cursorOf(append(one, rawCursor(4, "news")...))},
		{"too many positions", cursorOf(many)},
		{"oversized input", strings.Repeat("A", 1<<20)},
		{"oversized, valid base64 of valid positions", cursorOf(bigCursor)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := []Position{{"kept", "E", 1}}
			got, err := ParseCursor(dst, []byte(tc.cursor))
			if err != ErrBadCursor || !slices.Equal(got, dst) {
				t.Fatalf("ParseCursor(%s) = %d positions, %v; want ErrBadCursor and dst as it was", short(tc.cursor), len(got), err)
			}
		})
	}
}

// bigCursor is the bytes of a cursor of valid positions past the size
// bound: twice the positions allowed, at their longest.
var bigCursor = func() []byte {
	b := rawCursor(1)
	for range 2 * MaxCursorTopics {
		b = append(b, rawCursor(0x80, 0x02, strings.Repeat("t", MaxTopicLen), MaxEpochLen, strings.Repeat("e", MaxEpochLen))...)
		b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	}
	return b
}()

// TestParseCursorOversized: an input over the bound is refused before it is
// decoded, so that a client cannot make the server decode megabytes. Not
// parallel: AllocsPerRun counts every goroutine's allocations.
func TestParseCursorOversized(t *testing.T) {
	for _, s := range []string{strings.Repeat("A", 1<<20), cursorOf(bigCursor)} {
		b := []byte(s)
		if n := testing.AllocsPerRun(10, func() { _, _ = ParseCursor(nil, b) }); n != 0 {
			t.Errorf("%d bytes: %v allocations, want 0", len(s), n)
		}
	}
}

// short quotes s, cut to its first 64 bytes when longer.
func short(s string) string {
	if len(s) <= 64 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:64], len(s))
}

func TestValidEpoch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		epoch string
		want  bool
	}{
		{"k3v9q0", true},
		{"0", true},
		{"Z", true},
		{strings.Repeat("a", MaxEpochLen), true},
		{"", false},
		{strings.Repeat("a", MaxEpochLen+1), false},
		{"k3v-q0", false},
		{"k3v_q0", false},
		{"k3v q0", false},
		{"k3v9q\x00", false},
		{"é", false},
		{"/", false}, {":", false}, {"@", false}, {"[", false}, {"`", false}, {"{", false},
	}
	for _, tc := range cases {
		t.Run(tc.epoch, func(t *testing.T) {
			t.Parallel()
			if got := ValidEpoch(tc.epoch); got != tc.want {
				t.Fatalf("ValidEpoch(%q) = %v, want %v", tc.epoch, got, tc.want)
			}
		})
	}
}

// TestParseCursorLineBreaks: base64's decoder skips CR and LF; a cursor
// with one is refused rather than read as another.
func TestParseCursorLineBreaks(t *testing.T) {
	t.Parallel()
	c := string(AppendCursor(nil, []Position{{Topic: "news", Epoch: "e1", Offset: 7}}))
	for _, bad := range []string{c[:4] + "\n" + c[4:], c[:4] + "\r\n" + c[4:], c + "\n"} {
		if _, err := ParseCursor(nil, []byte(bad)); err != ErrBadCursor {
			t.Errorf("%q: %v, want ErrBadCursor", bad, err)
		}
	}
}
