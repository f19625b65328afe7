package main

import (
	"testing"

	"github.com/c1mhq/c1m/codec"
)

func TestDeflateWindowFlag(t *testing.T) {
	t.Parallel()
	cases := []struct {
		bits      int
		ok        bool
		noContext bool
	}{
		{0, true, true},
		{codec.MinClientWindowBits, true, false},
		{codec.DefaultClientWindowBits, true, false},
		{codec.MaxClientWindowBits, true, false},
		{codec.MinClientWindowBits - 1, false, false},
		{codec.MaxClientWindowBits + 1, false, false},
		{-1, false, false},
	}
	for _, tc := range cases {
		d, err := deflateConfig(tc.bits)
		if (err == nil) != tc.ok {
			t.Fatalf("-deflate-window %d: %v, want ok=%v", tc.bits, err, tc.ok)
		}
		if err != nil {
			continue
		}
		if d.ClientNoContext != tc.noContext || (!tc.noContext && d.ClientWindowBits != tc.bits) {
			t.Fatalf("-deflate-window %d: %+v", tc.bits, d)
		}
	}
}
