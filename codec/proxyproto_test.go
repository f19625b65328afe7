package codec

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// v2 is a version 2 header written out field by field, from hex.
func v2(t testing.TB, fields ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(fields, ""), " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The 12-byte version 2 signature, in hex.
const sigHex = "0d0a0d0a 000d0a51 5549540a"

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseProxyHeader(t *testing.T) {
	t.Parallel()
	const max = 1024
	tlv := v2(t, sigHex, "21 11 0013", "c0000201 c6336401 dc04 01bb", "04 0004 deadbeef", "03 0000")
	cases := []struct {
		name string
		in   []byte
		want ProxyHeader // Version 0: an error
		err  error
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\nGET"), ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")}, nil},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"), ProxyHeader{Version: 1, Source: ap("[2001:db8::1]:1"), Dest: ap("[2001:db8::2]:65535")}, nil},
		{"v1 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			ProxyHeader{Version: 1, Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Dest: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, nil},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ProxyHeader{Version: 1, Local: true}, nil},
		{"v1 UNKNOWN with addresses", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), ProxyHeader{Version: 1, Local: true}, nil},
		{"v1 no CR", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 1 2\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 IPv6 under TCP4", []byte("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 IPv4 under TCP6", []byte("PROXY TCP6 192.0.2.1 198.51.100.1 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 port over 65535", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 65536 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 leading zero", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 080 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 signed port", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 +80 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 two spaces", []byte("PROXY TCP4 192.0.2.1  198.51.100.1 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 field too many", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 1 2 3\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 field missing", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 1\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 other protocol", []byte("PROXY UDP4 192.0.2.1 198.51.100.1 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 lower case", []byte("PROXY tcp4 192.0.2.1 198.51.100.1 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 over 107 bytes", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"v1 never ends", []byte("PROXY TCP4 " + strings.Repeat("1", 200)), ProxyHeader{}, ErrProxyHeader},
		{"v1 bare CR inside", []byte("PROXY TCP4 192.0.2.1\r198.51.100.1 1 2\r\n"), ProxyHeader{}, ErrProxyHeader},
		{"not a header", []byte("GET / HTTP/1.1\r\n\r\n"), ProxyHeader{}, ErrNoProxyHeader},
		{"PROPFIND", []byte("PROPFIND / HTTP/1.1\r\n\r\n"), ProxyHeader{}, ErrNoProxyHeader},
		{"v2 TCP4", v2(t, sigHex, "21 11 000c", "c0000201 c6336401 dc04 01bb"), ProxyHeader{Version: 2, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")}, nil},
		{"v2 TCP6", v2(t, sigHex, "21 21 0024", "20010db8000000000000000000000001 20010db8000000000000000000000002 0001 0002"),
			ProxyHeader{Version: 2, Source: ap("[2001:db8::1]:1"), Dest: ap("[2001:db8::2]:2")}, nil},
		{"v2 TLVs skipped", tlv, ProxyHeader{Version: 2, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")}, nil},
		{"v2 LOCAL", v2(t, sigHex, "20 00 0000"), ProxyHeader{Version: 2, Local: true}, nil},
		{"v2 LOCAL with bytes", v2(t, sigHex, "20 11 0003 010203"), ProxyHeader{Version: 2, Local: true}, nil},
		{"v2 UNSPEC", v2(t, sigHex, "21 00 0000"), ProxyHeader{Version: 2, Local: true}, nil},
		{"v2 UNIX", v2(t, sigHex, "21 31 0000"), ProxyHeader{Version: 2, Local: true}, nil},
		{"v2 UDP4", v2(t, sigHex, "21 12 000c", "c0000201 c6336401 dc04 01bb"), ProxyHeader{Version: 2, Local: true}, nil},
		{"v2 version 1 in the binary form", v2(t, sigHex, "11 11 000c", "c0000201 c6336401 dc04 01bb"), ProxyHeader{}, ErrProxyHeader},
		{"v2 command 2", v2(t, sigHex, "22 11 000c", "c0000201 c6336401 dc04 01bb"), ProxyHeader{}, ErrProxyHeader},
		{"v2 family 4", v2(t, sigHex, "21 41 0000"), ProxyHeader{}, ErrProxyHeader},
		{"v2 transport 3", v2(t, sigHex, "21 13 000c", "c0000201 c6336401 dc04 01bb"), ProxyHeader{}, ErrProxyHeader},
		{"v2 addresses cut short", v2(t, sigHex, "21 11 000b", "c0000201 c6336401 dc04 01"), ProxyHeader{}, ErrProxyHeader},
		{"v2 over the limit", append(v2(t, sigHex, "21 11 ffff"), make([]byte, 65535)...), ProxyHeader{}, ErrProxyHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, n, err := ParseProxyHeader(tc.in, max)
			if err != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if h != tc.want {
				t.Fatalf("header %+v, want %+v", h, tc.want)
			}
			if n == 0 || n > len(tc.in) || bytes.Contains(tc.in[:n], []byte("GET")) {
				t.Fatalf("length %d of %d bytes", n, len(tc.in))
			}
			// Every shorter feed asks for more.
			for k := range n {
				if _, m, err := ParseProxyHeader(tc.in[:k], max); m != 0 || err != nil {
					t.Fatalf("first %d bytes: length %d, error %v; want a request for more", k, m, err)
				}
			}
		})
	}
}

func TestIsProxyHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		match, more bool
	}{
		{"", false, true},
		{"P", false, true},
		{"PROXY", false, true},
		{"PROXY ", true, false},
		{"PROXYZ", false, false},
		{"\r\n", false, true},
		{proxyV2Sig, true, false},
		{"\r\n\r\n\x00\r\nQUIX", false, false},
		{"GET / HTTP/1.1", false, false},
	} {
		match, more := IsProxyHeader([]byte(tc.in))
		if match != tc.match || more != tc.more {
			t.Errorf("%q: match %v more %v, want %v %v", tc.in, match, more, tc.match, tc.more)
		}
	}
}

func TestAppendProxyHeader(t *testing.T) {
	t.Parallel()
	for _, h := range []ProxyHeader{
		{Version: 1, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")},
		{Version: 1, Source: ap("[2001:db8::1]:1"), Dest: ap("[2001:db8::2]:2")},
		{Version: 1, Local: true},
		{Version: 2, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")},
		{Version: 2, Source: ap("[2001:db8::1]:1"), Dest: ap("[2001:db8::2]:2")},
		{Version: 2, Local: true},
	} {
		b := AppendProxyHeader(nil, h)
		got, n, err := ParseProxyHeader(b, MaxProxyV1)
		if err != nil || n != len(b) || got != h {
			t.Errorf("%+v: %q parsed as %+v, %d bytes, %v", h, b, got, n, err)
		}
	}
	if got, want := string(AppendProxyHeader(nil, ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.1:443")})),
		"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"; got != want {
		t.Errorf("v1: %q, want %q", got, want)
	}
}

func BenchmarkParseProxyHeader(b *testing.B) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"v1", []byte("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n")},
		{"v2", v2(b, sigHex, "21 11 000c", "c0000201 c6336401 dc04 01bb")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ParseProxyHeader(tc.in, MaxProxyV1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
