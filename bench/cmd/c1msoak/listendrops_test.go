package main

import "testing"

// TestParseListenDrops reads the two counters from their TcpExt lines.
func TestParseListenDrops(t *testing.T) {
	t.Parallel()
	text := "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\nTcpExt: 0 12 15 99\nIpExt: InNoRoutes\nIpExt: 0\n"
	if o, d := parseListenDrops(text); o != 12 || d != 15 {
		t.Errorf("got %d overflows, %d drops; want 12, 15", o, d)
	}
	if o, d := parseListenDrops("IpExt: A\nIpExt: 1\n"); o != 0 || d != 0 {
		t.Errorf("no TcpExt: got %d, %d", o, d)
	}
}
