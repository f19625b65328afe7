package server

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// listeners returns the backlogs of this process's listening TCP sockets
// bound to addr (the kernel's sk_max_ack_backlog, which TCP_INFO reports
// as tcpi_sacked for a listener).
func listeners(t *testing.T, addr *net.TCPAddr) []uint32 {
	t.Helper()
	var backlogs []uint32
	_, err := eachSocket(addr, true, func(fd int) error {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			backlogs = append(backlogs, info.Sacked)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return backlogs
}

// boundOnly returns how many TCP sockets of this process are bound to
// addr without listening: a keeper, or accepted connections.
func boundOnly(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	n, err := eachSocket(addr, false, func(int) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEveryLoopListens: on port 0, each loop has a listener of its own on
// the one port resolved before gnet binds, each with the configured
// backlog; and the port is the server's alone: a bind without
// SO_REUSEPORT fails, and so does a second server on it.
func TestEveryLoopListens(t *testing.T) {
	t.Parallel()
	const loops, backlog = 3, 77
	srv := New(nil, &Config{Addr: "127.0.0.1:0", Loops: loops, Backlog: backlog})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	addr := srv.Addr().(*net.TCPAddr)
	got := listeners(t, addr)
	if len(got) != loops {
		t.Fatalf("%d listening sockets on %s, want one per loop (%d)", len(got), addr, loops)
	}
	for i, b := range got {
		if b != backlog {
			t.Errorf("listener %d: backlog %d, want %d", i, b, backlog)
		}
	}
	// The keeper is gone: no socket of this process is bound to the port
	// without listening on it (no client has connected).
	if n := boundOnly(t, addr); n != 0 {
		t.Fatalf("%d sockets bound to %s without listening: the keeper is still open", n, addr)
	}
	// The port is the server's alone.
	if ln, err := net.Listen("tcp", addr.String()); err == nil {
		ln.Close()
		t.Fatalf("a plain listener could bind %s beside the server", addr)
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("a plain listener on %s: %v, want EADDRINUSE", addr, err)
	}
	second := New(nil, &Config{Addr: addr.String(), Loops: 1})
	if err := second.Start(); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			_ = second.Shutdown(context.Background())
		}
		t.Fatalf("a second server on %s: %v, want EADDRINUSE", addr, err)
	}
}

// TestClaimPortKeepsPortZero: the port claimPort resolves stays held by its
// keeper, so no other socket can listen on it before gnet binds; with
// ReusePort a fixed port is left to be shared.
func TestClaimPortKeepsPortZero(t *testing.T) {
	t.Parallel()
	addr, keeper, err := claimPort("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(keeper)
	if keeper < 0 {
		t.Fatal("no keeper for port 0")
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		t.Fatalf("claimPort returned %s, port unresolved", addr)
	}
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if n := boundOnly(t, tcp); n != 1 {
		t.Fatalf("%d sockets bound to %s without listening, want the keeper", n, addr)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener bound %s while the keeper held it", addr)
	}
	// The keeper does not listen: a connection to the port is refused.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("a connection to the keeper's port %s was accepted", addr)
	}
	shared, k2, err := claimPort(addr, true)
	if err != nil || shared != addr || k2 != -1 {
		t.Fatalf("claimPort(%s, shared) = %q, %d, %v; want the address unchanged and no keeper", addr, shared, k2, err)
	}
}

// TestDefaultBacklogIsSomaxconn: by default every loop's listener has the
// kernel's somaxconn as its backlog: the queue holds no descriptor of the
// process, and a short one only drops the SYNs of a reconnect storm.
func TestDefaultBacklogIsSomaxconn(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(somaxconnPath)
	if err != nil {
		t.Skip(err)
	}
	somaxconn, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	const loops = 2
	srv := New(nil, &Config{Addr: "127.0.0.1:0", Loops: loops})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	got := listeners(t, srv.Addr().(*net.TCPAddr))
	if len(got) != loops {
		t.Fatalf("%d listening sockets, want %d", len(got), loops)
	}
	for i, b := range got {
		if int(b) != somaxconn {
			t.Errorf("listener %d: backlog %d, want somaxconn %d", i, b, somaxconn)
		}
	}
}
