package main

import (
	"encoding/binary"
	"time"
)

// A payload carries a sequence number, its send time (unix ns) and its
// kind, in one of two forms a worker tells apart by the first byte:
//
//   - binary (echo): big-endian seq, send time, kind; the first byte is 0
//     (seq < 2^56);
//   - text (publications): 16 hex digits of seq, 16 of the send time, one
//     decimal digit of kind, then '.' up to the size. It is valid UTF-8
//     and needs no JSON escape, so it passes unchanged through c1m's
//     envelopes (SSE, long-poll) and Centrifugo's JSON pushes, and every
//     server and transport gets the same bytes.
const (
	offSeq     = 0
	offSent    = 8
	offKind    = 16
	minPayload = 24 // binary: room for the fields above, rounded up

	textSeqEnd  = 16
	textSentEnd = 32
	minText     = 33 // text: the fields above
)

// Payload kinds.
const (
	kindEcho   = 0
	kindSingle = 1 // a fan-out publication sent on its own
	kindBurst  = 2 // a fan-out publication inside a burst
)

// encodePayload fills p (at least minPayload bytes) with seq, the current
// time and kind, in binary.
func encodePayload(p []byte, seq uint64, kind byte) time.Time {
	now := time.Now()
	binary.BigEndian.PutUint64(p[offSeq:], seq)
	binary.BigEndian.PutUint64(p[offSent:], uint64(now.UnixNano()))
	p[offKind] = kind
	return now
}

const hexDigits = "0123456789abcdef"

// encodeText fills p (at least minText bytes) with seq, the current time
// and kind, as text, padded with '.'.
func encodeText(p []byte, seq uint64, kind byte) time.Time {
	now := time.Now()
	putHex(p[:textSeqEnd], seq)
	putHex(p[textSeqEnd:textSentEnd], uint64(now.UnixNano()))
	p[textSentEnd] = '0' + kind
	for i := minText; i < len(p); i++ {
		p[i] = '.'
	}
	return now
}

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// decodePayload reads either form; ok is false for anything else.
func decodePayload(p []byte) (seq uint64, sent int64, kind byte, ok bool) {
	if len(p) >= minPayload && p[0] == 0 {
		return binary.BigEndian.Uint64(p[offSeq:]), int64(binary.BigEndian.Uint64(p[offSent:])), p[offKind], true
	}
	if len(p) < minText || p[textSentEnd] < '0' || p[textSentEnd] > '9' {
		return 0, 0, 0, false
	}
	seq, ok1 := parseHex(p[:textSeqEnd])
	at, ok2 := parseHex(p[textSeqEnd:textSentEnd])
	return seq, int64(at), p[textSentEnd] - '0', ok1 && ok2
}
