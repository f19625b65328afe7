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

// Errors a Conn can end with, besides socket errors.
var (
	// ErrHandshakeTimeout: the TCP connect or the WebSocket handshake did
	// not complete within Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("loadgen: handshake timeout")
	// ErrClosedByServer: the server closed the TCP connection without a
	// close frame.
	ErrClosedByServer = errors.New("loadgen: closed by server")
)

// Conn is one client connection's state.
type Conn struct {
	fd       int
	ID       int
	state    uint8
	wantOut  bool // EPOLLOUT is armed
	dialed   time.Time
	pending  []byte // bytes of an incomplete frame or response head
	out      []byte // bytes not yet written
	Received int    // data messages received
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
	// Closed: the connection ended (err nil for a close we asked for or a
	// close frame from the server).
	Closed(c *Conn, err error)
}

// Config says where a Loop connects and from where.
type Config struct {
	// Addr is the server, host:port (IPv4).
	Addr string
	// Path is the request target of the upgrade, with its query.
	Path string
	// SourceBase is the index (SourceAddr) of the first source address;
	// loops that run at the same time must get disjoint ranges.
	SourceBase int
	// Sources is how many source addresses, from SourceBase, connections
	// are spread over round-robin. Zero means one.
	Sources int
	// HandshakeTimeout bounds TCP connect plus WebSocket handshake; a
	// connection that takes longer is dropped with ErrHandshakeTimeout.
	// Zero means 10s.
	HandshakeTimeout time.Duration
}

// DefaultHandshakeTimeout is Config.HandshakeTimeout's default.
const DefaultHandshakeTimeout = 10 * time.Second

// Loop drives connections with one epoll instance on the calling goroutine.
type Loop struct {
	cfg     Config
	epfd    int
	conns   map[int]*Conn
	h       Handler
	addr    unix.SockaddrInet4
	request []byte
	readBuf []byte
	nextSrc int
	// handshaking lists connections in dial order (hence in deadline
	// order) until they open or close; expire looks only at its head.
	handshaking []*Conn

	// Counters, read by the owner between Polls.
	Dialed      int   // Dial calls that got a socket
	Open        int   // connections whose handshake completed and still open
	Handshaking int   // connections dialed, not yet open nor closed
	Errors      int   // connections ended by an error, and failed dials
	Timeouts    int   // of Errors: handshake timeouts
	LastErr     error // the most recent error, for progress lines
}

// NewLoop returns a loop that connects to cfg.Addr and upgrades on cfg.Path.
func NewLoop(cfg Config, h Handler) (*Loop, error) {
	if cfg.Sources <= 0 {
		cfg.Sources = 1
	}
	if cfg.SourceBase < 0 || cfg.SourceBase+cfg.Sources > MaxSources {
		return nil, fmt.Errorf("loadgen: source addresses %d..%d out of range", cfg.SourceBase, cfg.SourceBase+cfg.Sources)
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	tcp, err := net.ResolveTCPAddr("tcp4", cfg.Addr)
	if err != nil {
		return nil, err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &Loop{cfg: cfg, epfd: epfd, conns: map[int]*Conn{}, h: h, readBuf: make([]byte, 256<<10)}
	l.addr.Port = tcp.Port
	copy(l.addr.Addr[:], tcp.IP.To4())
	l.request = []byte("GET " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	return l, nil
}

// Dial starts a connection from the next source address in turn; the
// handshake follows when it connects. A failed dial counts in Errors.
func (l *Loop) Dial(id int) error {
	err := l.dial(id)
	if err != nil {
		l.Errors++
		l.LastErr = err
	}
	return err
}

func (l *Loop) dial(id int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	// Without it, bind picks a port unique for the source address alone,
	// before the destination is known; with it, connect picks one unique
	// for the 4-tuple.
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	src := SourceAddr(l.cfg.SourceBase + l.nextSrc%l.cfg.Sources)
	l.nextSrc++
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("bind %v: %w", net.IP(src[:]), err)
	}
	if err := unix.Connect(fd, &l.addr); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return fmt.Errorf("connect from %v: %w", net.IP(src[:]), err)
	}
	c := &Conn{fd: fd, ID: id, dialed: time.Now(), wantOut: true}
	c.out = append(c.out, l.request...)
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: eventsIn | unix.EPOLLOUT, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		return err
	}
	l.conns[fd] = c
	l.handshaking = append(l.handshaking, c)
	l.Dialed++
	l.Handshaking++
	return nil
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

// eventsIn is what a connection always waits for; EPOLLOUT is added only
// while bytes wait to be written (or the connect to complete): armed
// level-triggered on an idle socket, it would wake every Poll at once and
// turn the generator into a busy loop that competes with the server.
const eventsIn = unix.EPOLLIN | unix.EPOLLRDHUP

func (l *Loop) flush(c *Conn) {
	if c.state == stateConnecting {
		return // EPOLLOUT says when the socket is connected
	}
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				l.watchOut(c, true) // EPOLLOUT resumes
				return
			}
			l.drop(c, err)
			return
		}
		c.out = c.out[n:]
	}
	c.out = nil
	l.watchOut(c, false)
}

// watchOut arms or disarms EPOLLOUT for c.
func (l *Loop) watchOut(c *Conn, on bool) {
	if c.wantOut == on {
		return
	}
	ev := unix.EpollEvent{Events: eventsIn, Fd: int32(c.fd)}
	if on {
		ev.Events |= unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.drop(c, err)
		return
	}
	c.wantOut = on
}

func (l *Loop) drop(c *Conn, err error) {
	switch c.state {
	case stateClosed:
		return
	case stateOpen:
		l.Open--
	default:
		l.Handshaking--
	}
	c.state = stateClosed
	delete(l.conns, c.fd)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
	if err != nil {
		l.Errors++
		l.LastErr = err
		if errors.Is(err, ErrHandshakeTimeout) {
			l.Timeouts++
		}
	}
	l.h.Closed(c, err)
}

// expire drops the connections whose handshake is overdue.
func (l *Loop) expire(now time.Time) {
	i := 0
	for ; i < len(l.handshaking); i++ {
		c := l.handshaking[i]
		if c.state == stateOpen || c.state == stateClosed {
			continue
		}
		if now.Sub(c.dialed) < l.cfg.HandshakeTimeout {
			break
		}
		l.drop(c, ErrHandshakeTimeout)
	}
	l.handshaking = l.handshaking[i:]
	if len(l.handshaking) == 0 {
		l.handshaking = nil // let the backing array go
	}
}

// Poll waits up to timeout for events, handles them, and drops
// connections whose handshake is overdue.
func (l *Loop) Poll(timeout time.Duration) error {
	var events [512]unix.EpollEvent
	n, err := unix.EpollWait(l.epfd, events[:], int(timeout.Milliseconds()))
	if err != nil && !errors.Is(err, unix.EINTR) {
		return err
	}
	for _, ev := range events[:max(n, 0)] {
		c := l.conns[int(ev.Fd)]
		if c == nil {
			continue
		}
		if ev.Events&unix.EPOLLERR != 0 {
			errno, _ := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			l.drop(c, fmt.Errorf("socket error: %w", unix.Errno(errno)))
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
	if len(l.handshaking) > 0 {
		l.expire(time.Now())
	}
	return nil
}

func (l *Loop) read(c *Conn) {
	for c.state != stateClosed {
		n, err := unix.Read(c.fd, l.readBuf)
		if n <= 0 {
			if err == nil {
				l.drop(c, ErrClosedByServer)
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
			l.Handshaking--
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

// CloseAll closes every connection and the epoll instance.
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
