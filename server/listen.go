package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"
)

// The listening sockets.
//
// The server accepts on its loops. gnet runs with a listening socket per
// loop (SO_REUSEPORT, the kernel spreading new connections over them by a
// hash of their addresses), and each loop accepts one connection and opens
// it in the same event (gnet's eventloop.accept calls OnOpen inline), so a
// connection over the cap is answered 503 and closed before that loop
// accepts again: connections never exceed the cap by more than one per
// loop (the loops check the shared count apart), however far the loops
// lag, and a connection flood cannot take the process to EMFILE (on which
// gnet stops the whole engine). gnet's other
// mode, one listener that a main reactor drains to EAGAIN on its own
// goroutine, queueing each socket to a loop as a task, lets accepted
// sockets pile up behind lagging loops where the cap cannot see them: a
// watcher that shut the listener near the limit (the descriptor guard of
// earlier versions) was late on a loaded machine, and the engine died.
//
// Sharing the port between the loops must not share it with anyone else
// unless Config.ReusePort says so, and port 0 must be one port for every
// loop. So before gnet binds, claimPort refuses a port another socket
// listens on (a bind without SO_REUSEPORT, closed at once) and resolves
// port 0 with a keeper: a socket bound with SO_REUSEPORT, not listening
// (it takes no connection), which holds the port until the first loop's
// listener has bound it.

// claimPort checks addr before gnet binds it and returns the address to
// give gnet, its host name resolved (gnet resolves the address again for
// each loop, and a name could resolve differently) and its port 0
// resolved, and the keeper socket that holds that port (-1 when addr had
// a fixed port), for the caller to close once gnet has bound. With shared
// (Config.ReusePort), a fixed port may already be bound by other
// processes; port 0 is refused then (ErrReusePortZero).
func claimPort(addr string, shared bool) (string, int, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", -1, fmt.Errorf("c1m: listen address %q: %w", addr, err)
	}
	sa, family, tcpAddr, v6only, err := socket.GetTCPSockAddr("tcp", addr)
	if err != nil {
		return "", -1, fmt.Errorf("c1m: listen address %q: %w", addr, err)
	}
	if host != "" { // an empty host stays empty: every address, dual-stack
		host = (&net.IPAddr{IP: tcpAddr.IP, Zone: tcpAddr.Zone}).String()
	}
	at := func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	switch {
	case tcpAddr.Port != 0 && shared:
		return at(tcpAddr.Port), -1, nil
	case tcpAddr.Port != 0:
		fd, err := bindSocket(family, v6only, sa, false)
		if err != nil {
			return "", -1, fmt.Errorf("c1m: listen on %s: %w", addr, err)
		}
		_ = unix.Close(fd)
		return at(tcpAddr.Port), -1, nil
	case shared:
		return "", -1, ErrReusePortZero
	}
	keeper, err := bindSocket(family, v6only, sa, true)
	if err != nil {
		return "", -1, fmt.Errorf("c1m: listen on %s: %w", addr, err)
	}
	bound, err := unix.Getsockname(keeper)
	if err != nil {
		_ = unix.Close(keeper)
		return "", -1, fmt.Errorf("c1m: listen on %s: %w", addr, os.NewSyscallError("getsockname", err))
	}
	return at(sockaddrTCP(bound).Port), keeper, nil
}

// bindSocket returns a TCP socket bound to sa. The probe (not reusePort)
// has SO_REUSEADDR as gnet's listeners do, so that a restarted server's
// connections in TIME_WAIT do not hold the port, while a socket listening
// on it does. The keeper (reusePort) has SO_REUSEPORT only: the loops'
// listeners, with SO_REUSEPORT too, bind beside it, and a socket with
// SO_REUSEADDR alone cannot (with SO_REUSEADDR on both, Linux lets a
// socket bind beside another that does not listen).
func bindSocket(family int, v6only bool, sa unix.Sockaddr, reusePort bool) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if reusePort {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	} else {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err == nil && v6only {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err != nil {
		err = os.NewSyscallError("setsockopt", err)
	} else {
		err = os.NewSyscallError("bind", unix.Bind(fd, sa))
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// boundAddr returns the address of the engine's first listener.
func boundAddr(eng gnet.Engine) (*net.TCPAddr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	if a := sockaddrTCP(sa); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("c1m: unexpected listener address %T", sa)
}

// sockaddrTCP returns sa as a TCP address, or nil when it is neither IPv4
// nor IPv6.
func sockaddrTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// errNoListener is setBacklog's answer when no listening socket of the
// process is bound to the address.
var errNoListener = errors.New("c1m: no listening socket found on the bound address")

// setBacklog sets backlog on every listening TCP socket of this process
// bound to addr, which are the loops' listeners (and those of other
// servers of the process sharing the port with Config.ReusePort). gnet
// listens with somaxconn and offers no option, and it binds the listeners
// of all loops but the first after OnBoot: listen(2) on a listening socket
// only updates its backlog.
func setBacklog(addr *net.TCPAddr, backlog int) error {
	n, err := eachSocket(addr, true, func(fd int) error {
		return os.NewSyscallError("listen", unix.Listen(fd, backlog))
	})
	if err == nil && n == 0 {
		err = errNoListener
	}
	return err
}

// eachSocket calls fn on every TCP socket of this process bound to addr
// that listens, or that does not (!listening), until fn fails, and
// returns how many it called fn on. fn gets a duplicate of the
// descriptor, closed after: a number closed and taken again since the
// listing of /proc/self/fd is never acted on by mistake.
func eachSocket(addr *net.TCPAddr, listening bool, fn func(fd int) error) (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			continue // closed since the listing
		}
		if boundTo(dup, addr, listening) {
			err = fn(dup)
			n++
		}
		_ = unix.Close(dup)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// boundTo reports whether fd is a TCP socket bound to addr that listens,
// or that does not (!listening).
func boundTo(fd int, addr *net.TCPAddr, listening bool) bool {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || (v == 1) != listening {
		return false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	a := sockaddrTCP(sa)
	return a != nil && a.Port == addr.Port && a.IP.Equal(addr.IP)
}
