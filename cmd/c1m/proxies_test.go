package main

import (
	"fmt"
	"testing"
)

// TestParsePrefixes: -trusted-proxies takes networks and single
// addresses; anything else is refused rather than silently trusting less
// (or more) than the operator wrote.
func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want: the prefixes, or "error"
	}{
		{"", "[]"},
		{"127.0.0.1", "[127.0.0.1/32]"},
		{"10.0.0.0/8, 192.168.1.7", "[10.0.0.0/8 192.168.1.7/32]"},
		{"10.1.2.3/8", "[10.0.0.0/8]"},
		{"::1,2001:db8::/32", "[::1/128 2001:db8::/32]"},
		{"::ffff:10.0.0.1", "[10.0.0.1/32]"},
		{"10.0.0.0/8,,", "[10.0.0.0/8]"},
		{"proxy.example.com", "error"},
		{"10.0.0.0/33", "error"},
		{"10.0.0.1:80", "error"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parsePrefixes(tc.in)
			s := fmt.Sprint(got)
			if err != nil {
				s = "error"
			}
			if s != tc.want {
				t.Errorf("parsePrefixes(%q) = %s (%v), want %s", tc.in, s, err, tc.want)
			}
		})
	}
}
