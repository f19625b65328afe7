package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is one client connection's state.
type Conn struct {
	fd       int
	ID       int
	state    uint8
	pending  []byte // bytes of an incomplete frame or response head
	out      []byte // bytes not yet written
	Received int    // data messages received
	Last     uint64 // sequence number of the last message
	Sent     time.Time
}

const (
	stateConnecting = iota
	stateHandshake
	stateOpen
	stateClosed
)

// Handler gets the events of a Loop; it runs on the loop's goroutine.
type Handler interface {
	// Opened: the handshake completed.
	Opened(c *Conn)
	// Message: a complete data message (payload valid during the call).
	Message(c *Conn, payload []byte)
	// Closed: the connection ended (err nil for a close we asked for).
	Closed(c *Conn, err error)
}

// Loop drives connections with one epoll instance on the calling goroutine.
type Loop struct {
	epfd    int
	conns   map[int]*Conn
	h       Handler
	addr    unix.SockaddrInet4
	host    string
	path    string
	readBuf []byte
	nextSrc int
	Errors  int
	Open    int
}

// NewLoop returns a loop that connects to addr (host:port) and upgrades on
// path (with its query).
func NewLoop(addr, path string, h Handler) (*Loop, error) {
	tcp, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &Loop{epfd: epfd, conns: map[int]*Conn{}, h: h, host: addr, path: path, readBuf: make([]byte, 256<<10)}
	l.addr.Port = tcp.Port
	copy(l.addr.Addr[:], tcp.IP.To4())
	return l, nil
}

// perSource is how many connections share one source address.
const perSource = 20000

// Dial starts a connection; the handshake follows when it connects.
func (l *Loop) Dial(id int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	src := l.nextSrc / perSource
	l.nextSrc++
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, byte(1 + src/250), byte(1 + src%250)}}); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Connect(fd, &l.addr); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return err
	}
	c := &Conn{fd: fd, ID: id}
	l.conns[fd] = c
	c.out = []byte("GET " + l.path + " HTTP/1.1\r\nHost: " + l.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(fd)})
}

// Send writes a masked client data frame (text when text is set).
func (l *Loop) Send(c *Conn, text bool, payload []byte) {
	op := byte(0x2)
	if text {
		op = 0x1
	}
	c.out = appendMasked(c.out, op, payload)
	l.flush(c)
}

// Close sends a close frame and closes the socket.
func (l *Loop) Close(c *Conn) {
	c.out = appendMasked(c.out, 0x8, []byte{0x03, 0xe8})
	l.flush(c)
	l.drop(c, nil)
}

func appendMasked(dst []byte, op byte, p []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0x80|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	// A zero mask leaves the payload as it is: masking is required, not
	// its value, and the generator saves the XOR.
	dst = append(dst, 0, 0, 0, 0)
	return append(dst, p...)
}

func (l *Loop) flush(c *Conn) {
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return // EPOLLOUT resumes
			}
			l.drop(c, err)
			return
		}
		c.out = c.out[n:]
	}
	c.out = nil
}

func (l *Loop) drop(c *Conn, err error) {
	if c.state == stateClosed {
		return
	}
	if c.state == stateOpen {
		l.Open--
	}
	c.state = stateClosed
	delete(l.conns, c.fd)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
	if err != nil {
		l.Errors++
	}
	l.h.Closed(c, err)
}

// Poll waits up to timeout for events and handles them.
func (l *Loop) Poll(timeout time.Duration) error {
	var events [512]unix.EpollEvent
	n, err := unix.EpollWait(l.epfd, events[:], int(timeout.Milliseconds()))
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return err
	}
	for _, ev := range events[:n] {
		c := l.conns[int(ev.Fd)]
		if c == nil {
			continue
		}
		if ev.Events&(unix.EPOLLERR) != 0 {
			l.drop(c, fmt.Errorf("socket error"))
			continue
		}
		if ev.Events&unix.EPOLLOUT != 0 {
			if c.state == stateConnecting {
				c.state = stateHandshake
			}
			l.flush(c)
		}
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
			l.read(c)
		}
	}
	return nil
}

func (l *Loop) read(c *Conn) {
	for c.state != stateClosed {
		n, err := unix.Read(c.fd, l.readBuf)
		if n <= 0 {
			if err == nil {
				l.drop(c, errors.New("closed by server"))
			} else if !errors.Is(err, unix.EAGAIN) {
				l.drop(c, err)
			}
			return
		}
		data := l.readBuf[:n]
		if len(c.pending) > 0 {
			c.pending = append(c.pending, data...)
			data = c.pending
		}
		rest := l.consume(c, data)
		c.pending = append(c.pending[:0], rest...)
		if len(c.pending) == 0 {
			c.pending = nil
		}
		if n < len(l.readBuf) {
			return
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// consume handles every complete response head and frame in data and
// returns the incomplete rest.
func (l *Loop) consume(c *Conn, data []byte) []byte {
	for len(data) > 0 && c.state != stateClosed {
		if c.state != stateOpen {
			i := bytes.Index(data, headEnd)
			if i < 0 {
				return data
			}
			if !bytes.HasPrefix(data, []byte("HTTP/1.1 101")) {
				l.drop(c, fmt.Errorf("handshake refused: %q", data[:min(len(data), 40)]))
				return nil
			}
			data = data[i+len(headEnd):]
			c.state = stateOpen
			l.Open++
			l.h.Opened(c)
			continue
		}
		if len(data) < 2 {
			return data
		}
		op := data[0] & 0x0f
		hl, plen := 2, int(data[1]&0x7f)
		switch plen {
		case 126:
			if len(data) < 4 {
				return data
			}
			hl, plen = 4, int(binary.BigEndian.Uint16(data[2:]))
		case 127:
			if len(data) < 10 {
				return data
			}
			hl, plen = 10, int(binary.BigEndian.Uint64(data[2:]))
		}
		if len(data) < hl+plen {
			return data
		}
		payload := data[hl : hl+plen]
		switch op {
		case 0x1, 0x2:
			c.Received++
			l.h.Message(c, payload)
		case 0x9: // ping: answer
			c.out = appendMasked(c.out, 0xA, payload)
			l.flush(c)
		case 0x8:
			l.drop(c, nil)
			return nil
		}
		data = data[hl+plen:]
	}
	return nil
}

// Conns returns the number of connections in any state.
func (l *Loop) Conns() int { return len(l.conns) }

// CloseAll closes every connection.
func (l *Loop) CloseAll() {
	for _, c := range l.conns {
		l.drop(c, nil)
	}
	unix.Close(l.epfd)
}

// OpenConns lists the connections whose handshake completed.
func (l *Loop) OpenConns() []*Conn {
	out := make([]*Conn, 0, len(l.conns))
	for _, c := range l.conns {
		if c.state == stateOpen {
			out = append(out, c)
		}
	}
	return out
}
