package codec

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The PROXY protocol (haproxy's proxy-protocol.txt, versions 1 and 2): a
// proxy in front of the server writes, before anything the client sent, a
// header naming the client's address. It is parsed from the connection's
// first bytes, like a request head: incrementally, bounded, and decided
// from the bytes alone.

// proxyV1Prefix starts a version 1 header, a line of text.
const proxyV1Prefix = "PROXY "

// proxyV2Sig is the 12-byte signature of a version 2 header, binary. No
// HTTP request starts with it (nor with a prefix of it longer than 2
// bytes): a CR LF CR LF is an empty request.
const proxyV2Sig = "\r\n\r\n\x00\r\nQUIT\n"

// MaxProxyV1 is the longest version 1 header, its CR LF included (the
// specification's 107 bytes: "PROXY TCP6" and two full IPv6 addresses and
// ports).
const MaxProxyV1 = 107

// proxyV2Fixed is the fixed part of a version 2 header: the signature, the
// version and command, the family and the length of what follows.
const proxyV2Fixed = 16

// ProxyHeader is what a PROXY protocol header says.
type ProxyHeader struct {
	// Version is 1 or 2.
	Version uint8
	// Local means the header names no client: version 2's LOCAL command
	// (a proxy's own health check), version 1's UNKNOWN, or a version 2
	// address family other than TCP over IPv4 or IPv6. The connection's
	// own peer is then the client, as the specification asks.
	Local bool
	// Source is the client's address and port; Dest the address the
	// client connected to. Both are zero when Local.
	Source, Dest netip.AddrPort
}

// IsProxyHeader reports whether buf, a connection's first bytes, starts a
// PROXY protocol header (match), or is too short to tell and may still
// start one (more). Neither means the bytes are something else (an HTTP
// request). Safe for concurrent use.
func IsProxyHeader(buf []byte) (match, more bool) {
	for _, sig := range [...]string{proxyV1Prefix, proxyV2Sig} {
		n := min(len(buf), len(sig))
		if string(buf[:n]) == sig[:n] {
			return n == len(sig), n < len(sig)
		}
	}
	return false, false
}

// ParseProxyHeader parses the PROXY protocol header at the start of buf,
// version 1 or 2. It returns the header and its length n once buf holds
// all of it; n == 0 with a nil error when more bytes are needed. A header
// longer than max (at least MaxProxyV1 is always allowed for version 1),
// or one that breaks the specification, is ErrProxyHeader; bytes that do
// not start a header at all are ErrNoProxyHeader. A version 2 header's
// TLVs are skipped. Nothing is allocated. Safe for concurrent use.
func ParseProxyHeader(buf []byte, max int) (h ProxyHeader, n int, err error) {
	match, more := IsProxyHeader(buf)
	switch {
	case more:
		return h, 0, nil
	case !match:
		return h, 0, ErrNoProxyHeader
	case buf[0] == 'P':
		return parseProxyV1(buf)
	}
	return parseProxyV2(buf, max)
}

// parseProxyV1 parses "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
// or "PROXY UNKNOWN...\r\n": single spaces, no leading zeros, within
// MaxProxyV1 bytes.
func parseProxyV1(buf []byte) (h ProxyHeader, n int, err error) {
	window := buf[:min(len(buf), MaxProxyV1)]
	end := bytes.IndexByte(window, '\n')
	if end < 0 {
		if len(buf) >= MaxProxyV1 {
			return h, 0, ErrProxyHeader
		}
		return h, 0, nil
	}
	if end == 0 || window[end-1] != '\r' {
		return h, 0, ErrProxyHeader
	}
	line := window[len(proxyV1Prefix) : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return h, 0, ErrProxyHeader
	}
	h.Version = 1
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(proto) {
	case "UNKNOWN":
		// The rest of the line, whatever it is, is to be ignored.
		h.Local = true
		return h, end + 1, nil
	case "TCP4", "TCP6":
	default:
		return h, 0, ErrProxyHeader
	}
	var fields [4][]byte
	for i := range fields {
		var ok bool
		fields[i], rest, ok = bytes.Cut(rest, []byte(" "))
		if ok == (i == len(fields)-1) || len(fields[i]) == 0 {
			return h, 0, ErrProxyHeader // a field too many, or one missing or empty
		}
	}
	v6 := proto[3] == '6'
	src, ok1 := proxyAddr(fields[0], v6)
	dst, ok2 := proxyAddr(fields[1], v6)
	sport, ok3 := proxyPort(fields[2])
	dport, ok4 := proxyPort(fields[3])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return h, 0, ErrProxyHeader
	}
	h.Source, h.Dest = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return h, end + 1, nil
}

// proxyAddr parses a version 1 address: dotted IPv4 for TCP4, IPv6 (no
// zone) for TCP6.
func proxyAddr(b []byte, v6 bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a, true
}

// proxyPort parses a version 1 port: 0 to 65535 in decimal, without a
// leading zero.
func proxyPort(b []byte) (uint16, bool) {
	if len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	p, err := strconv.ParseUint(string(b), 10, 16)
	return uint16(p), err == nil
}

// Version 2's command (low nibble of byte 12; the high one is the
// version, 2) and address families (high nibble of byte 13; the low one is
// the transport).
const (
	proxyCmdLocal  = 0x0
	proxyCmdProxy  = 0x1
	proxyFamInet   = 0x1
	proxyFamInet6  = 0x2
	proxyTransTCP  = 0x1
	proxyLenInet   = 12 // two IPv4 addresses, two ports
	proxyLenInet6  = 36 // two IPv6 addresses, two ports
	proxyV2Version = 0x2
)

// parseProxyV2 parses a version 2 header: the signature, version and
// command, family, length, the addresses and the TLVs, skipped.
func parseProxyV2(buf []byte, max int) (h ProxyHeader, n int, err error) {
	if len(buf) < proxyV2Fixed {
		return h, 0, nil
	}
	verCmd, fam := buf[12], buf[13]
	if verCmd>>4 != proxyV2Version {
		return h, 0, ErrProxyHeader
	}
	size := proxyV2Fixed + int(binary.BigEndian.Uint16(buf[14:16]))
	if size > max {
		return h, 0, ErrProxyHeader
	}
	h.Version = 2
	var addrLen int
	switch verCmd & 0xf {
	case proxyCmdLocal:
		h.Local = true
	case proxyCmdProxy:
		switch fam {
		case proxyFamInet<<4 | proxyTransTCP:
			addrLen = proxyLenInet
		case proxyFamInet6<<4 | proxyTransTCP:
			addrLen = proxyLenInet6
		default:
			// UNSPEC, UNIX or UDP: the specification says to use the
			// connection's own addresses.
			h.Local = true
		}
	default:
		return h, 0, ErrProxyHeader
	}
	if fam&0xf > 2 || fam>>4 > 3 || size-proxyV2Fixed < addrLen {
		return h, 0, ErrProxyHeader // an unknown family, or addresses cut short
	}
	if len(buf) < size {
		return h, 0, nil
	}
	a := buf[proxyV2Fixed:size]
	switch addrLen {
	case proxyLenInet:
		src := netip.AddrFrom4([4]byte(a[0:4]))
		dst := netip.AddrFrom4([4]byte(a[4:8]))
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(a[8:10]))
		h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(a[10:12]))
	case proxyLenInet6:
		src := netip.AddrFrom16([16]byte(a[0:16]))
		dst := netip.AddrFrom16([16]byte(a[16:32]))
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(a[32:34]))
		h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(a[34:36]))
	}
	return h, size, nil
}

// AppendProxyHeader appends h as a PROXY protocol header of h.Version (a
// proxy's side, for tests and load generators): version 1's TCP4/TCP6 or
// UNKNOWN line, or version 2's PROXY or LOCAL command without TLVs.
// Safe for concurrent use.
func AppendProxyHeader(dst []byte, h ProxyHeader) []byte {
	v6 := h.Source.Addr().Is6() && !h.Source.Addr().Is4In6()
	if h.Version == 1 {
		if h.Local {
			return append(dst, "PROXY UNKNOWN\r\n"...)
		}
		proto := "TCP4 "
		if v6 {
			proto = "TCP6 "
		}
		dst = append(dst, proxyV1Prefix+proto...)
		dst = h.Source.Addr().AppendTo(dst)
		dst = append(dst, ' ')
		dst = h.Dest.Addr().AppendTo(dst)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(h.Dest.Port()), 10)
		return append(dst, "\r\n"...)
	}
	dst = append(dst, proxyV2Sig...)
	if h.Local {
		return append(dst, proxyV2Version<<4|proxyCmdLocal, 0, 0, 0)
	}
	if !v6 {
		dst = append(dst, proxyV2Version<<4|proxyCmdProxy, proxyFamInet<<4|proxyTransTCP, 0, proxyLenInet)
		s, d := h.Source.Addr().Unmap().As4(), h.Dest.Addr().Unmap().As4()
		dst = append(append(dst, s[:]...), d[:]...)
	} else {
		dst = append(dst, proxyV2Version<<4|proxyCmdProxy, proxyFamInet6<<4|proxyTransTCP, 0, proxyLenInet6)
		s, d := h.Source.Addr().As16(), h.Dest.Addr().As16()
		dst = append(append(dst, s[:]...), d[:]...)
	}
	dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
	return binary.BigEndian.AppendUint16(dst, h.Dest.Port())
}
