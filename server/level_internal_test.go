package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// acceptedFd returns the server side of a new loopback TCP connection, as
// a descriptor of its own, and the client side.
func acceptedFd(t *testing.T) (int, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	// As gnet's sockets: no keepalive (Go's listeners turn it on).
	if err := server.(*net.TCPConn).SetKeepAlive(false); err != nil {
		t.Fatal(err)
	}
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if cerr := raw.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd, client.(*net.TCPConn)
}

// TestDupConnLeavesKeepAlive: net.FileConn turns TCP keepalive on, on the
// socket; dupConn sets it back, so a connection handed over behaves as
// one that was not.
func TestDupConnLeavesKeepAlive(t *testing.T) {
	fd, _ := acceptedFd(t)
	nc, err := dupConn(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err != nil || on != 0 {
		t.Fatalf("SO_KEEPALIVE %d (%v) after dupConn, want 0 as before", on, err)
	}
}

// TestDupConnRefusesReset: a connection reset before it could be handed
// over has no peer address, which gnet's Enroll needs (it would fail and
// leave its duplicate open): dupConn refuses it, and the connection
// stays on the loop that accepted it, which reads the reset.
func TestDupConnRefusesReset(t *testing.T) {
	fd, client := acceptedFd(t)
	if err := client.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	_ = client.Close() // RST
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := unix.Getpeername(fd); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket was not reset")
		}
		time.Sleep(time.Millisecond)
	}
	if nc, err := dupConn(fd); !errors.Is(err, errNoPeer) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("dupConn of a reset socket: %v, want errNoPeer", err)
	}
}
