package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/wstest"
)

// nonMinimal returns a masked single-frame message whose length is encoded
// in a wider field than RFC 6455 5.2 allows: 2 or 8 bytes after the 7-bit
// marker 126 or 127, whatever the payload's size.
func nonMinimal(op codec.OpCode, payload []byte, field int) []byte {
	b := []byte{0b1000_0000 | byte(op)}
	switch field {
	case 2:
		b = binary.BigEndian.AppendUint16(append(b, 0b1000_0000|126), uint16(len(payload)))
	case 8:
		b = binary.BigEndian.AppendUint64(append(b, 0b1000_0000|127), uint64(len(payload)))
	}
	// wstest.Masked uses the same fixed mask; take its mask and payload.
	m := wstest.Masked(true, 0, op, payload)
	return append(b, m[len(m)-len(payload)-4:]...)
}

// TestNonMinimalLength: a length not encoded in the minimal number of bytes
// (RFC 6455 5.2, a MUST) fails the connection with 1002, decided from the
// length field alone: the client sends the header (and, in one case, only
// up to the end of the length field, a byte at a time) and never the
// payload, so no write of the test races the server's close. A minimal
// frame just before it is echoed.
func TestNonMinimalLength(t *testing.T) {
	t.Parallel()
	addr := echoAddr(t)
	const maskLen = 4
	head := func(frame []byte, field int) []byte { return frame[:2+field+maskLen] }
	cases := []struct {
		name string
		send [][]byte
	}{
		{"16-bit length of 5", [][]byte{head(nonMinimal(codec.OpText, []byte("hello"), 2), 2)}},
		{"16-bit length of 125", [][]byte{head(nonMinimal(codec.OpBinary, bytes.Repeat([]byte{0xfe}, 125), 2), 2)}},
		{"64-bit length of 125", [][]byte{head(nonMinimal(codec.OpBinary, bytes.Repeat([]byte{0xfe}, 125), 8), 8)}},
		{"64-bit length of 65535", [][]byte{head(nonMinimal(codec.OpBinary, bytes.Repeat([]byte{0xfe}, 65535), 8), 8)}},
		{"64-bit length of 2, length field in chunks of 1", chunks(nonMinimal(codec.OpText, []byte("hi"), 8)[:2+8], 1)},
		{"16-bit close", [][]byte{head(nonMinimal(codec.OpClose, []byte{0x03, 0xe8}, 2), 2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := wstest.Upgrade(t, addr, "/")
			c.Echo("minimal before")
			for _, b := range tc.send {
				c.Write(b)
			}
			c.ExpectClose(codec.StatusProtocolError)
		})
	}
}
