package loadgen

import (
	"encoding/binary"
	"fmt"
)

// The WebSocket transport (RFC 6455), client side: the upgrade request,
// masked frames out, unmasked frames in.

// Opcodes the generator sends or handles.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

func upgradeRequest(host, target string) []byte {
	return []byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// Send writes a masked client data frame (text when text is set).
// WebSocket only. Loop-only.
func (l *Loop) Send(c *Conn, text bool, payload []byte) {
	op := byte(opBinary)
	if text {
		op = opText
	}
	c.out = appendMasked(c.out, op, payload)
	l.flush(c)
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

// maxFrameBytes bounds a server frame's declared length: the generator
// keeps an incomplete frame until it is whole, so a larger declaration
// (or a 64-bit length with its top bit set, which RFC 6455 forbids) is
// refused from the header rather than buffered.
const maxFrameBytes = 16 << 20

// consumeWebSocket handles the 101 head and every complete frame in data
// and returns the incomplete rest.
func (l *Loop) consumeWebSocket(c *Conn, data []byte) ([]byte, error) {
	for len(data) > 0 && c.state != stateClosed {
		if c.state != stateOpen {
			h, n, err := parseHead(data)
			if n == 0 && err == nil {
				return data, nil
			}
			if err != nil || h.status != 101 {
				return nil, ProtocolError(fmt.Sprintf("handshake refused: %q", data[:min(len(data), 40)]))
			}
			data = data[n:]
			l.opened(c)
			continue
		}
		if len(data) < 2 {
			return data, nil
		}
		op := data[0] & 0x0f
		hl, plen := 2, int(data[1]&0x7f)
		switch plen {
		case 126:
			if len(data) < 4 {
				return data, nil
			}
			hl, plen = 4, int(binary.BigEndian.Uint16(data[2:]))
		case 127:
			if len(data) < 10 {
				return data, nil
			}
			n := binary.BigEndian.Uint64(data[2:])
			if n > maxFrameBytes {
				return nil, ProtocolError(fmt.Sprintf("a frame of %d bytes, over the generator's %d", n, maxFrameBytes))
			}
			hl, plen = 10, int(n)
		}
		if len(data) < hl+plen {
			return data, nil
		}
		payload := data[hl : hl+plen]
		switch op {
		case opText, opBinary:
			if l.cfg.Transport == SocketIO {
				if err := l.engineIO(c, op == opBinary, payload); err != nil {
					return nil, err
				}
				break
			}
			c.Received++
			l.h.Message(c, payload)
		case opPing:
			c.out = appendMasked(c.out, opPong, payload)
			l.flush(c)
		case opClose:
			l.drop(c, nil)
			return nil, nil
		}
		data = data[hl+plen:]
	}
	return nil, nil
}
