package main

// The clients that misbehave, on goroutines of the driver (a handful of
// connections): slow readers that stop reading a busy topic, publish and
// command flooders, clients that send frames that break RFC 6455, and
// requests that are not HTTP. Each runs in a loop until the context ends,
// and counts its rounds; the server must cut each off (its evictions say
// how) without harm to the well-behaved clients.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// abuseCounts are the rounds of each kind of misbehaviour.
type abuseCounts struct {
	SlowReaders atomic.Int64
	PubFloods   atomic.Int64
	CmdFloods   atomic.Int64
	BadFrames   atomic.Int64
	BadRequests atomic.Int64
	Unexpected  atomic.Int64 // rounds where the server did not answer as it should
	AtCapacity  atomic.Int64 // rounds refused with 503 because the server held its cap of connections
	Cut         atomic.Int64 // rounds whose dial or read the end of the load cut short: no answer to judge
	lastProblem atomic.Value // string
}

// errAtCapacity is a 503: the server holds as many connections as it may
// (the churn takes it there at times). A precise answer, counted apart.
var errAtCapacity = errors.New("503 at capacity")

// failed counts a round that ended with err: at capacity, cut short by
// the end of the load (ctx), or a problem. A round is cut short when,
// say, its dial waits for a SYN retransmission (1 s, 3 s, ...) because
// a full listen queue dropped the first SYN as the load ends. Any other
// error is a problem, a dial that timed out included: the server's loops
// take every connection the kernel queues and answer one over the cap
// with 503, so no dial should wait abuseTimeout (a SYN and three
// retransmissions) unanswered.
func (a *abuseCounts) failed(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		a.Cut.Add(1)
		return
	}
	if errors.Is(err, errAtCapacity) {
		a.AtCapacity.Add(1)
		return
	}
	a.problem(what + ": " + err.Error())
}

func (a *abuseCounts) problem(what string) {
	a.Unexpected.Add(1)
	a.lastProblem.Store(what)
	fmt.Fprintln(os.Stderr, "c1msoak: abusive client:", what)
}

// abuseTimeout bounds each network step of an abusive client.
const abuseTimeout = 10 * time.Second

// slowRcvBuf is a slow reader's receive buffer, and slowPause how long it
// stops reading: the firehose (firehoseRate publications of firehoseSize
// a second) fills the kernel's buffers and the server's -max-outbound
// well within it.
const (
	slowRcvBuf = 4 << 10
	slowPause  = 30 * time.Second
)

// upgrade dials addr and upgrades to WebSocket on target; the response
// head is read, nothing after it. A small rcvbuf (set before the connect:
// shrinking it later stalls loopback connections) makes a reader that
// stops reading fill up soon.
func upgrade(ctx context.Context, addr, target string, rcvbuf int) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: abuseTimeout}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
			return errors.Join(err, serr)
		}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(abuseTimeout))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		nc.Close()
		return nil, nil, errAtCapacity
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, errors.New("upgrade answered " + resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// frame returns a client frame: masked with a zero key (still a masked
// frame, as RFC 6455 requires of clients) unless unmasked.
func frame(op byte, payload []byte, unmasked bool) []byte {
	b := []byte{0x80 | op}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n < 1<<16:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !unmasked {
		b = append(b, 0, 0, 0, 0)
	}
	return append(b, payload...)
}

// closeCode reads frames from br until a close frame and returns its code,
// 0 when the connection ends first, or -1 when the read deadline passes.
func closeCode(br *bufio.Reader) int {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return -1
			}
			return 0
		}
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				return 0
			}
			n = int64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				return 0
			}
			n = int64(binary.BigEndian.Uint64(l[:]))
		}
		payload := make([]byte, min(n, 1<<20))
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0
		}
		if _, err := io.CopyN(io.Discard, br, n-int64(len(payload))); err != nil {
			return 0
		}
		if h[0]&0x0f == 0x8 {
			if len(payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// pause waits d or until ctx ends, and reports whether to go on.
func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// runAbuse starts every abusive client on addr and returns when ctx ends
// and all have stopped.
func runAbuse(ctx context.Context, addr string, slow int, a *abuseCounts) {
	var wg sync.WaitGroup
	loop := func(round func() bool, every time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				round()
				if !pause(ctx, every) {
					return
				}
			}
		}()
	}
	for range slow {
		loop(func() bool { return slowReader(ctx, addr, a) }, time.Second)
	}
	loop(func() bool {
		return flood(ctx, addr, a, `{"op":"publish","topic":"flood","data":"x"}`, 1008, &a.PubFloods)
	}, time.Second)
	loop(func() bool { return flood(ctx, addr, a, `{"op":"subscribe","topic":"flood"}`, 1008, &a.CmdFloods) }, time.Second)
	loop(func() bool { return badFrame(ctx, addr, a) }, 200*time.Millisecond)
	loop(func() bool { return badRequest(ctx, addr, a) }, 200*time.Millisecond)
	wg.Wait()
}

// slowReader subscribes to the firehose and stops reading: the server must
// end it (slow consumer) once its queue passes -max-outbound. It then
// reads what is left until the end.
func slowReader(ctx context.Context, addr string, a *abuseCounts) bool {
	nc, br, err := upgrade(ctx, addr, "/ws?topic=firehose", slowRcvBuf)
	if err != nil {
		a.failed(ctx, "slow reader", err)
		return false
	}
	defer nc.Close()
	if !pause(ctx, slowPause) {
		return false
	}
	// What the kernel holds comes first, then the close frame, or the end
	// when the server could not write it.
	_ = nc.SetReadDeadline(time.Now().Add(abuseTimeout))
	if code := closeCode(br); code != 1008 && code != 0 {
		a.problem("slow reader: not ended, close code " + itoa(code))
		return false
	}
	a.SlowReaders.Add(1)
	return true
}

// flood sends cmd as fast as it can while reading the replies, until the
// server closes the session with code.
func flood(ctx context.Context, addr string, a *abuseCounts, cmd string, code int, n *atomic.Int64) bool {
	nc, br, err := upgrade(ctx, addr, "/ws", 0)
	if err != nil {
		a.failed(ctx, "flood", err)
		return false
	}
	defer nc.Close()
	got := make(chan int, 1)
	go func() {
		_ = nc.SetReadDeadline(time.Now().Add(abuseTimeout))
		got <- closeCode(br)
	}()
	f := frame(0x1, []byte(cmd), false)
	batch := []byte{}
	for range 64 {
		batch = append(batch, f...)
	}
	_ = nc.SetWriteDeadline(time.Now().Add(abuseTimeout))
	for {
		select {
		case c := <-got:
			if c != code {
				a.problem("flood: closed with " + itoa(c))
				return false
			}
			n.Add(1)
			return true
		default:
		}
		if _, err := nc.Write(batch); err != nil {
			if c := <-got; c != code {
				a.problem("flood: write " + err.Error() + ", close " + itoa(c))
				return false
			}
			n.Add(1)
			return true
		}
	}
}

// badFrame sends an unmasked frame: close 1002.
func badFrame(ctx context.Context, addr string, a *abuseCounts) bool {
	nc, br, err := upgrade(ctx, addr, "/ws", 0)
	if err != nil {
		a.failed(ctx, "bad frame", err)
		return false
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(abuseTimeout))
	if _, err := nc.Write(frame(0x1, []byte("unmasked"), true)); err != nil {
		a.failed(ctx, "bad frame", err)
		return false
	}
	if c := closeCode(br); c != 1002 {
		a.problem("bad frame: closed with " + itoa(c))
		return false
	}
	a.BadFrames.Add(1)
	return true
}

// badRequest sends a request head that is not HTTP, and one over the head
// limit: 400 and 431.
func badRequest(ctx context.Context, addr string, a *abuseCounts) bool {
	for _, tc := range []struct {
		req  string
		want int
	}{
		{"NOT HTTP AT ALL\r\n\r\n", http.StatusBadRequest},
		{"GET /ws HTTP/1.1\r\nX-Junk: " + strings.Repeat("j", 20<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	} {
		d := net.Dialer{Timeout: abuseTimeout}
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			a.failed(ctx, "bad request", err)
			return false
		}
		_ = nc.SetDeadline(time.Now().Add(abuseTimeout))
		_, _ = io.WriteString(nc, tc.req)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		nc.Close()
		switch {
		case err != nil:
			a.failed(ctx, "bad request", err)
			return false
		case resp.StatusCode == http.StatusServiceUnavailable:
			a.AtCapacity.Add(1)
			return false
		case resp.StatusCode != tc.want:
			a.problem("bad request: " + resp.Status + ", want " + itoa(tc.want))
			return false
		}
	}
	a.BadRequests.Add(1)
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
