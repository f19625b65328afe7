package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// guardedListener returns a listener and a dup of its socket for a guard.
func guardedListener(t *testing.T) (net.Listener, int) {
	t.Helper()
	// Not MPTCP, Go's default for listeners since 1.24: the kernel does
	// not take socket filters on MPTCP sockets (EOPNOTSUPP); gnet's
	// listener is plain TCP.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return ln, fd
}

// dialable reports whether a connection to ln completes its handshake
// and is accepted. A SYN the filter drops is never answered: the 500 ms
// dial timeout only bounds the wait, the answer does not depend on it.
func dialable(t *testing.T, ln net.Listener) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Data still flows on the accepted connection, both ways.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return true
}

// TestSYNFilter: with the filter on the listener, a new connection is
// not answered; one whose handshake completed before is accepted and
// carries data; without the filter, connections complete again.
func TestSYNFilter(t *testing.T) {
	t.Parallel()
	ln, fd := guardedListener(t)
	defer unix.Close(fd)
	g := &fdGuard{listener: fd, log: slog.Default()}
	queued, err := net.Dial("tcp", ln.Addr().String()) // in the accept queue
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	if !g.setFilter(guardShut) {
		t.Fatal("attach failed")
	}
	if dialable(t, ln) {
		t.Fatal("a new connection completed with the filter on")
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queued.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil || b[0] != 'y' {
		t.Fatalf("queued connection: %q %v", b, err)
	}
	_ = s.Close()
	if !g.setFilter(guardOpen) {
		t.Fatal("detach failed")
	}
	if !dialable(t, ln) {
		t.Fatal("no connection after the filter came off")
	}
}

// TestFDGuardEngagesAndReleases drives one guard's checks: descriptors
// taken at and above the engage line engage it (the listener refuses new
// connections); once they are closed and the process holds fewer files
// than the release line, it lets them in again. A straggler left above
// the line after the release does not engage it again.
func TestFDGuardEngagesAndReleases(t *testing.T) {
	ln, fd := guardedListener(t)
	open, err := countOpenFiles()
	if err != nil {
		t.Fatal(err)
	}
	// Other tests open and close descriptors meanwhile: the lines sit well
	// above what the process holds now.
	line := open + 200
	g := &fdGuard{listener: fd, engageAt: line, releaseAt: line - 50, log: slog.Default(),
		conns: func() int { return 0 }}
	g.target = line
	defer unix.Close(fd)

	now := time.Now()
	g.check(now)
	if g.filter != guardOpen {
		t.Fatal("engaged with the line free")
	}
	var taken []int
	for i := 0; i < 3; i++ { // the line and the next two
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, line)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, d)
	}
	g.check(now)
	if g.filter != guardShut || g.engagements.Load() != 1 {
		t.Fatalf("not engaged with descriptors %v taken", taken)
	}
	if dialable(t, ln) {
		t.Fatal("engaged, yet a new connection completed")
	}
	for _, d := range taken[1:] {
		_ = unix.Close(d)
	}
	// taken[0] stays: a long-lived connection above the line.
	released := now.Add(fdGuardCountEvery)
	g.check(released)
	if g.filter != guardThin {
		t.Fatalf("filter %d with the process under the release line; want the probation's (%d)", g.filter, guardThin)
	}
	g.check(released.Add(fdGuardProbation / 2))
	if g.filter != guardThin {
		t.Fatalf("filter %d half-way through the probation", g.filter)
	}
	g.check(released.Add(fdGuardProbation))
	if g.filter != guardOpen {
		t.Fatalf("filter %d after the probation; want none", g.filter)
	}
	// Shut from the engagement (now) to the end of the probation.
	if got, want := g.shutFor(released.Add(time.Hour)), released.Add(fdGuardProbation).Sub(now); got != want {
		t.Fatalf("listener not open for %v; want %v", got, want)
	}
	if !dialable(t, ln) {
		t.Fatal("released, yet no connection completed")
	}
	g.check(released.Add(2 * fdGuardProbation))
	if g.filter != guardOpen {
		t.Fatal("engaged again by the descriptor that was there at the release")
	}
	_ = unix.Close(taken[0])
}

// TestFDGuardLines: the lines at this machine's limit and at a test's.
func TestFDGuardLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		files                 int
		wantEngage, wantRelse int
	}{
		{"20k", 20000, 19588, 19588 - 25},
		{"1200", 1200, 1040, 1040 - 8},
		{"1M", 1 << 20, 1048576 - 4096 - 5242, 1048576 - 4096 - 5242 - 1310},
		{"300", 300, 300 - 75 - 32, 300 - 75 - 32 - 8},
		{"64", 64, 64 - 16 - 8, 64 - 16 - 8 - 2},
	} {
		c := capacityFor(&Config{}, tc.files, 4096)
		e, r := fdGuardLines(c)
		if e != tc.wantEngage || r != tc.wantRelse {
			t.Errorf("%s: lines %d, %d; want %d, %d", tc.name, e, r, tc.wantEngage, tc.wantRelse)
		}
		// A server at its cap holds its connections and a few more files:
		// the release line must leave room for them, or the guard would
		// stay engaged (refusing SYNs instead of answering 503) while the
		// server sits at its cap.
		if room := min(8, c.reserve/4); r-c.maxConns < room || r >= e {
			t.Errorf("%s: release line %d: want over the cap %d by %d files or more, and under the engage line %d", tc.name, r, c.maxConns, room, e)
		}
		if e >= c.files-c.backlog {
			t.Errorf("%s: engage line %d leaves less than a backlog (%d) under %d files", tc.name, e, c.backlog, c.files)
		}
	}
}

// TestSYNThinning: the probation's filter answers about one SYN in
// fdGuardThinning and drops the rest. Of 200 dials, with p = 1/8, fewer
// than 5 or more than 60 complete with probability under 1e-4 (binomial
// tails); a filter that drops every SYN or none fails.
func TestSYNThinning(t *testing.T) {
	t.Parallel()
	ln, fd := guardedListener(t)
	defer unix.Close(fd)
	g := &fdGuard{listener: fd, log: slog.Default()}
	if !g.setFilter(guardThin) {
		t.Fatal("attach failed")
	}
	// What completes waits in the accept queue (far longer than 200):
	// a dial completes with the handshake, before any accept.
	const dials = 200
	// A dropped SYN is retransmitted after 1 s: a dial that has not
	// completed within 700 ms had its SYN dropped.
	d := net.Dialer{Timeout: 700 * time.Millisecond}
	done := make(chan bool, dials)
	for range dials {
		go func() {
			c, err := d.Dial("tcp", ln.Addr().String())
			if err == nil {
				_ = c.Close()
			}
			done <- err == nil
		}()
	}
	passed := 0
	for range dials {
		if <-done {
			passed++
		}
	}
	t.Logf("%d of %d SYNs answered", passed, dials)
	if passed < 5 || passed > 60 {
		t.Fatalf("%d of %d SYNs answered; want about 1 in %d", passed, dials, fdGuardThinning)
	}
}
