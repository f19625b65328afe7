package main

import (
	"bytes"
	"testing"
)

// TestAppendFrame: the three length encodings of RFC 6455 5.2, at their
// edges.
func TestAppendFrame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		n    int
		head []byte
	}{
		{"empty", 0, []byte{0x82, 0}},
		{"7-bit max", 125, []byte{0x82, 125}},
		{"16-bit min", 126, []byte{0x82, 126, 0, 126}},
		{"16-bit max", 65535, []byte{0x82, 126, 0xff, 0xff}},
		{"64-bit min", 65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{'x'}, c.n)
			got := appendFrame(nil, p)
			if !bytes.Equal(got[:len(c.head)], c.head) || !bytes.Equal(got[len(c.head):], p) {
				t.Fatalf("header % x, want % x (total %d bytes)", got[:min(len(got), 10)], c.head, len(got))
			}
		})
	}
}
