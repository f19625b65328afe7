package codec

import "testing"

// FuzzParseProxyHeader: any bytes give a header, a request for more, or an
// error, within the bounds; feeding a prefix never decides otherwise than
// the whole; an accepted header's canonical form parses to the same.
func FuzzParseProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
		"PROXY UNKNOWN\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s), 256)
	}
	f.Add(v2(f, sigHex, "21 11 000c", "c0000201 c6336401 dc04 01bb"), 256)
	f.Add(v2(f, sigHex, "21 21 0024", "20010db8000000000000000000000001 20010db8000000000000000000000002 0001 0002"), 256)
	f.Add(v2(f, sigHex, "20 00 0000"), 16)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max %= 1 << 17
		h, n, err := ParseProxyHeader(in, max)
		if n < 0 || n > len(in) || (n > 0 && err != nil) {
			t.Fatalf("length %d of %d with error %v", n, len(in), err)
		}
		if n > MaxProxyV1 && n > max {
			t.Fatalf("length %d over the limits %d and %d", n, MaxProxyV1, max)
		}
		if err == nil && n > 0 && h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d", h.Version)
		}
		// A prefix asks for more or decides the same.
		for _, k := range []int{0, 1, len(in) / 2, n - 1, n} {
			if k < 0 || k > len(in) {
				continue
			}
			h2, n2, err2 := ParseProxyHeader(in[:k], max)
			if n2 == 0 && err2 == nil {
				continue
			}
			if h2 != h || n2 != n || err2 != err {
				t.Fatalf("first %d bytes: %+v %d %v; all %d: %+v %d %v", k, h2, n2, err2, len(in), h, n, err)
			}
		}
		if err != nil || n == 0 {
			return
		}
		if h.Local {
			return
		}
		b := AppendProxyHeader(nil, h)
		h3, n3, err3 := ParseProxyHeader(b, MaxProxyV1)
		if err3 != nil || n3 != len(b) || h3 != h {
			t.Fatalf("%+v re-encoded as %q parses as %+v %d %v", h, b, h3, n3, err3)
		}
	})
}
