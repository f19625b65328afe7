package main

import (
	"context"
	"errors"
	"math"
	"net"
	"testing"
	"time"
)

// TestDialJudged: a dial that times out is the guard's answer only when
// the guard's shut-or-thinned time grew while it waited; otherwise it
// stays a plain timeout, which the soak counts as a problem.
func TestDialJudged(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name  string
		grows bool
		want  error
	}{
		{"guard engaged meanwhile", true, errGuardRefused},
		{"guard open", false, nil},
	} {
		g := new(guardWatch)
		g.shut.Store(math.Float64bits(3.5))
		if tc.grows {
			time.AfterFunc(50*time.Millisecond, func() { g.shut.Store(math.Float64bits(4.25)) })
		}
		d := net.Dialer{Timeout: time.Nanosecond} // expires before the SYN-ACK
		nc, err := dial(context.Background(), &d, ln.Addr().String(), g)
		if err == nil {
			nc.Close()
			t.Fatalf("%s: the dial did not time out", tc.name)
		}
		if !dialTimedOut(err) {
			t.Errorf("%s: %v is not a dial timeout", tc.name, err)
		}
		if got := errors.Is(err, errGuardRefused); got != (tc.want != nil) {
			t.Errorf("%s: %v; guard refused %v, want %v", tc.name, err, got, tc.want != nil)
		}
	}
	// A refused dial is no timeout, whatever the guard did.
	addr := ln.Addr().String()
	ln.Close()
	if _, err := net.Dial("tcp", addr); err == nil || dialTimedOut(err) {
		t.Errorf("a refused dial: %v, judged a timeout %v", err, dialTimedOut(err))
	}
}

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
