package broker

import (
	"strings"
	"testing"
)

func TestTopicSubjectToken(t *testing.T) {
	t.Parallel()
	cases := []struct{ topic, token string }{
		{"", "_"},
		{"news", "news"},
		{"room:42", "room:42"},
		{"a.b", "a%2Eb"},
		{"*", "%2A"},
		{">", "%3E"},
		{"_", "%5F"},
		{"%", "%25"},
		{"$user:alice", "%24user:alice"},
		{"sp ace", "sp%20ace"},
		{"é", "%C3%A9"},
	}
	for _, tc := range cases {
		if got := encodeTopic(tc.topic); got != tc.token {
			t.Errorf("encodeTopic(%q) = %q, want %q", tc.topic, got, tc.token)
		}
		if got, err := decodeTopic(tc.token); err != nil || got != tc.topic {
			t.Errorf("decodeTopic(%q) = %q, %v, want %q", tc.token, got, err, tc.topic)
		}
	}
	for _, bad := range []string{"", "%", "%4", "%zz", "%41" /* 'A' is plain */, "a.b", "a b", "%2e", strings.Repeat("%2E", maxTopicBytes+1)} {
		if got, err := decodeTopic(bad); err == nil {
			t.Errorf("decodeTopic(%q) = %q, want ErrBadSubject", bad, got)
		}
	}
}

// FuzzTopicSubject: every topic encodes to one NATS subject token (no
// '.', no wildcard, no space, not empty) that decodes back to it; any
// token decodes to a topic that encodes back to that token, or is refused.
func FuzzTopicSubject(f *testing.F) {
	for _, s := range []string{"", "news", "a.b", "%2E", "_", "$user:x", "%C3%A9", "%41", ">", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := encodeTopic(s)
		if tok == "" || strings.ContainsAny(tok, ". \t\r\n*>") {
			t.Fatalf("encodeTopic(%q) = %q: not a plain subject token", s, tok)
		}
		if len(s) <= maxTopicBytes {
			if back, err := decodeTopic(tok); err != nil || back != s {
				t.Fatalf("decodeTopic(encodeTopic(%q)) = %q, %v", s, back, err)
			}
		}
		if topic, err := decodeTopic(s); err == nil && encodeTopic(topic) != s {
			t.Fatalf("decodeTopic(%q) = %q, which encodes to %q", s, topic, encodeTopic(topic))
		}
	})
}
