package loadgen

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Config says where a Loop connects, from where and how.
type Config struct {
	// Addr is the server, host:port (IPv4).
	Addr string
	// Path is the request target of the first request, with its query.
	Path string
	// Transport is what the connections speak. The zero value is
	// WebSocket.
	Transport Transport
	// WaitReady keeps a connection out of Open (and under the handshake
	// timeout) after Handler.Opened until the handler calls Loop.Ready:
	// for a protocol that subscribes after the transport opens, or a
	// stream whose first event says the subscription is in place. False:
	// ready when open.
	WaitReady bool
	// SourceBase is the index (SourceAddr) of the first source address;
	// loops that run at the same time must get disjoint ranges.
	SourceBase int
	// Sources is how many source addresses, from SourceBase, connections
	// are spread over round-robin. Zero means one.
	Sources int
	// HandshakeTimeout bounds TCP connect plus handshake (plus readiness,
	// with WaitReady); a connection that takes longer is dropped with
	// ErrHandshakeTimeout. Zero means 10s.
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
	scratch []byte // a packet being built before it is framed
	nextSrc int
	// handshaking lists connections in dial order (hence in deadline
	// order) until they are ready or closed; expire looks only at its
	// head.
	handshaking []*Conn

	// Counters, read by the owner between Polls.
	Dialed      int   // Dial calls that got a socket
	Open        int   // connections ready and still open
	Handshaking int   // connections dialed, not yet ready nor closed
	Errors      int   // connections ended by an error, and failed dials
	Timeouts    int   // of Errors: handshake timeouts
	Pings       int   // SocketIO: Engine.IO pings answered
	LastErr     error // the most recent error, for progress lines
}

// NewLoop returns a loop that connects to cfg.Addr and sends cfg.Path.
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
	switch cfg.Transport {
	case WebSocket, SocketIO:
		l.request = upgradeRequest(cfg.Addr, cfg.Path)
	case EventStream:
		l.request = getRequest(cfg.Addr, cfg.Path, "text/event-stream")
	case Poll:
		l.request = getRequest(cfg.Addr, cfg.Path, "application/json")
	}
	return l, nil
}

func getRequest(host, target, accept string) []byte {
	return []byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: " + accept + "\r\nCache-Control: no-cache\r\n\r\n")
}

// Dial starts a connection from the next source address in turn; the
// first request follows when it connects. A failed dial counts in Errors.
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

// Ready counts c as open (Open, no more handshake deadline). With
// Config.WaitReady the handler calls it once the client is subscribed;
// without, the loop does when the transport opens. Loop-only.
func (l *Loop) Ready(c *Conn) {
	if c.ready || c.state == stateClosed {
		return
	}
	c.ready = true
	l.Handshaking--
	l.Open++
}

// IsReady says whether Ready was called for c.
func (c *Conn) IsReady() bool { return c.ready }

// IsOpen says whether c is not closed (a handler call may close it).
func (c *Conn) IsOpen() bool { return c.state != stateClosed }

// opened marks c's transport open and tells the handler.
func (l *Loop) opened(c *Conn) {
	c.state = stateOpen
	if l.cfg.Transport == SocketIO {
		return // open for the handler at the namespace's CONNECT reply
	}
	l.notifyOpened(c)
}

// notifyOpened tells the handler that c is open, and counts it ready
// unless the handler says when.
func (l *Loop) notifyOpened(c *Conn) {
	l.h.Opened(c)
	if !l.cfg.WaitReady {
		l.Ready(c)
	}
}

// Get sends the next request of a Poll connection: call it once the
// previous reply came (Handler.Response). Loop-only.
func (l *Loop) Get(c *Conn, target string) {
	if c.state == stateClosed {
		return
	}
	c.out = append(c.out, getRequest(l.cfg.Addr, target, "application/json")...)
	l.flush(c)
}

// Close ends c: a close frame first on WebSocket; the socket closes at
// once. Closed follows with a nil error.
func (l *Loop) Close(c *Conn) {
	if (l.cfg.Transport == WebSocket || l.cfg.Transport == SocketIO) && c.state == stateOpen {
		c.out = appendMasked(c.out, opClose, []byte{0x03, 0xe8})
		l.flush(c)
	}
	l.drop(c, nil)
}

// Abort ends c with err, counted in Errors (a reply the handler refuses).
func (l *Loop) Abort(c *Conn, err error) { l.drop(c, err) }

// eventsIn is what a connection always waits for; EPOLLOUT is added only
// while bytes wait to be written (or the connect to complete): armed
// level-triggered on an idle socket, it would wake every Poll at once and
// turn the generator into a busy loop that competes with the server.
const eventsIn = unix.EPOLLIN | unix.EPOLLRDHUP

func (l *Loop) flush(c *Conn) {
	if c.state == stateConnecting || c.state == stateClosed {
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
	if c.state == stateClosed {
		return
	}
	if c.ready {
		l.Open--
	} else {
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

// expire drops the connections whose handshake (or readiness) is overdue.
func (l *Loop) expire(now time.Time) {
	i := 0
	for ; i < len(l.handshaking); i++ {
		c := l.handshaking[i]
		if c.ready || c.state == stateClosed {
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
				l.flush(c)
				if l.cfg.Transport == Poll && c.state != stateClosed {
					l.opened(c) // each reply has its own head
				}
			} else {
				l.flush(c)
			}
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
				l.eof(c)
			} else if !errors.Is(err, unix.EAGAIN) {
				l.drop(c, err)
			}
			return
		}
		l.input(c, l.readBuf[:n])
		if n < len(l.readBuf) {
			return
		}
	}
}

// input parses data read from c after what was left incomplete before,
// and keeps what is still incomplete.
func (l *Loop) input(c *Conn, data []byte) {
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	var rest []byte
	var err error
	switch l.cfg.Transport {
	case WebSocket, SocketIO:
		rest, err = l.consumeWebSocket(c, data)
	case EventStream:
		rest, err = l.consumeEventStream(c, data)
	case Poll:
		rest, err = l.consumePoll(c, data)
	}
	if err != nil {
		l.drop(c, err)
		return
	}
	if c.state == stateClosed {
		c.pending = nil
		return
	}
	c.pending = append(c.pending[:0], rest...)
	if len(c.pending) == 0 {
		c.pending = nil
	}
}

// eof handles the server's end of stream: a close-delimited reply ends
// there.
func (l *Loop) eof(c *Conn) {
	if l.cfg.Transport == Poll && c.inBody && c.body.framing == framingClose {
		l.replied(c)
	}
	l.drop(c, ErrClosedByServer)
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

// OpenConns lists the connections that are ready and open.
func (l *Loop) OpenConns() []*Conn {
	out := make([]*Conn, 0, len(l.conns))
	for _, c := range l.conns {
		if c.ready && c.state != stateClosed {
			out = append(out, c)
		}
	}
	return out
}
