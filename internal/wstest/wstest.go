// Package wstest is a raw WebSocket client for tests: it writes exactly the
// bytes a test asks for (malformed frames included) and reads the server's
// frames one by one, with deadlines so that no test hangs.
package wstest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
)

// Timeout bounds every read of a test client.
const Timeout = 10 * time.Second

// Key is the sample nonce of RFC 6455 section 1.3.
const Key = "dGhlIHNhbXBsZSBub25jZQ=="

// Request returns an upgrade request head for path with extra header lines
// (each ending in CRLF).
func Request(path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + Key + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// Conn is a raw client connection.
type Conn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// Dial opens a TCP connection to addr without a handshake.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// Upgrade dials addr and completes a handshake on path, failing the test
// unless the answer is 101.
func Upgrade(t testing.TB, addr, path string) *Conn {
	t.Helper()
	c := Dial(t, addr)
	c.Write([]byte(Request(path, "")))
	if resp := c.Response(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade %s: status %d", path, resp.StatusCode)
	}
	return c
}

// Net returns the underlying connection.
func (c *Conn) Net() net.Conn { return c.nc }

// Write writes raw bytes.
func (c *Conn) Write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Response reads an HTTP response head (and its body when it has a
// Content-Length).
func (c *Conn) Response() *http.Response {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(Timeout))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp
}

// Frame is a frame read from the server.
type Frame struct {
	Fin     bool
	Rsv     byte
	Op      codec.OpCode
	Payload []byte
}

// CloseCode returns the code of a close frame (1005 when it has none).
func (f Frame) CloseCode() codec.StatusCode {
	if len(f.Payload) < 2 {
		return codec.StatusNoStatus
	}
	return codec.StatusCode(binary.BigEndian.Uint16(f.Payload))
}

// ReadFrame reads one server frame.
func (c *Conn) ReadFrame() (Frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(Timeout))
	var hdr [codec.MaxHeaderSize]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return Frame{}, err
	}
	n := 2
	switch hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if hdr[1]&0x80 != 0 {
		return Frame{}, errors.New("wstest: server frame is masked")
	}
	if _, err := io.ReadFull(c.br, hdr[2:n]); err != nil {
		return Frame{}, err
	}
	h, _, err := codec.DecodeHeader(hdr[:n])
	if err != nil {
		return Frame{}, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return Frame{}, err
	}
	return Frame{Fin: h.Fin, Rsv: h.Rsv, Op: h.Op, Payload: p}, nil
}

// MustFrame reads one frame and fails the test on error.
func (c *Conn) MustFrame() Frame {
	c.t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// ReadToClose reads frames until a close frame, which must carry code, and
// returns how many data frames came before it. Safe to call from a
// goroutine other than the test's: it reports by its error.
func (c *Conn) ReadToClose(code codec.StatusCode) (data int, err error) {
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return data, fmt.Errorf("waiting for close %d: %w", code, err)
		}
		switch f.Op {
		case codec.OpClose:
			if got := f.CloseCode(); got != code {
				return data, fmt.Errorf("close code %d (%q), want %d", got, f.Payload, code)
			}
			return data, nil
		case codec.OpText, codec.OpBinary, codec.OpContinuation:
			data++
		}
	}
}

// ExpectClose reads frames until a close frame, which must carry code, and
// then expects the server to close the TCP connection.
func (c *Conn) ExpectClose(code codec.StatusCode) {
	c.t.Helper()
	if _, err := c.ReadToClose(code); err != nil {
		c.t.Fatal(err)
	}
	c.ExpectEOF()
}

// ExpectEOF expects the server to close the connection, with nothing but
// frames, if anything, before.
func (c *Conn) ExpectEOF() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(Timeout))
	rest, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("waiting for the server to close: %v (read %d bytes)", err, len(rest))
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// Masked returns a masked client frame. rsv is the three RSV bits (RSV1 =
// 0b100); the mask is fixed so that output is reproducible.
func Masked(fin bool, rsv byte, op codec.OpCode, payload []byte) []byte {
	b0 := byte(op) | rsv<<4
	if fin {
		b0 |= 0x80
	}
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = append(b, b0, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, b0, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, b0, 0x80|127), uint64(n))
	}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	codec.Unmask(b[start:], mask, 0)
	return b
}

// Text returns a masked single-frame text message.
func Text(s string) []byte { return Masked(true, 0, codec.OpText, []byte(s)) }

// Close returns a masked close frame with code and reason.
func Close(code codec.StatusCode, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return Masked(true, 0, codec.OpClose, append(p, reason...))
}

// Echo sends a text message and expects it back.
func (c *Conn) Echo(msg string) {
	c.t.Helper()
	c.Write(Text(msg))
	f := c.MustFrame()
	if f.Op != codec.OpText || string(f.Payload) != msg {
		c.t.Fatalf("echo: got op %d %q, want text %q", f.Op, f.Payload, msg)
	}
}

// String describes a frame for test messages.
func (f Frame) String() string {
	return fmt.Sprintf("{fin:%v rsv:%b op:%d len:%d}", f.Fin, f.Rsv, f.Op, len(f.Payload))
}
