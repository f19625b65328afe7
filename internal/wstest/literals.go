package wstest

import (
	"errors"
	"fmt"
)

// ErrBackReference is returned by LiteralsOnly for a stream that refers
// back to earlier bytes.
var ErrBackReference = errors.New("wstest: deflate stream refers back to earlier bytes")

// deflateTail is what a permessage-deflate sender strips from each message
// (RFC 7692 section 7.2.1).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// LiteralsOnly decodes a permessage-deflate payload (raw DEFLATE, RFC 1951,
// without its trailing 00 00 ff ff) that holds nothing but literal bytes,
// and returns them. A length/distance pair is ErrBackReference: a stream
// without one needs no LZ77 window, so it fits the smallest
// server_max_window_bits a client may ask for. It is written from RFC 1951
// alone (in the manner of zlib's puff.c), so that a test does not check
// compress/flate's output with compress/flate.
func LiteralsOnly(payload []byte) ([]byte, error) {
	r := bitReader{b: append(append([]byte(nil), payload...), deflateTail...)}
	var out []byte
	for !r.done() {
		final := r.bits(1)
		var err error
		switch r.bits(2) {
		case 0:
			out, err = r.stored(out)
		case 1:
			out, err = r.codes(out, &fixedLit)
		case 2:
			var lit huffman
			if lit, err = r.dynamicTables(); err == nil {
				out, err = r.codes(out, &lit)
			}
		default:
			err = errors.New("wstest: reserved deflate block type")
		}
		if err != nil {
			return out, err
		}
		if r.err != nil {
			return out, r.err
		}
		if final == 1 {
			break
		}
	}
	return out, nil
}

// bitReader reads a DEFLATE stream's bits, least significant first.
type bitReader struct {
	b   []byte
	pos int // in bits
	err error
}

func (r *bitReader) done() bool { return r.pos >= 8*len(r.b) }

func (r *bitReader) bits(n int) int {
	v := 0
	for i := range n {
		if r.done() {
			r.err = errors.New("wstest: deflate stream ends early")
			return 0
		}
		v |= int(r.b[r.pos/8]>>(r.pos%8)&1) << i
		r.pos++
	}
	return v
}

// stored copies a stored block.
func (r *bitReader) stored(out []byte) ([]byte, error) {
	r.pos = (r.pos + 7) &^ 7
	at := r.pos / 8
	if at+4 > len(r.b) {
		return out, errors.New("wstest: stored block header cut")
	}
	n := int(r.b[at]) | int(r.b[at+1])<<8
	if nn := int(r.b[at+2]) | int(r.b[at+3])<<8; n != ^nn&0xffff {
		return out, errors.New("wstest: stored block length mismatch")
	}
	if at+4+n > len(r.b) {
		return out, errors.New("wstest: stored block cut")
	}
	r.pos = 8 * (at + 4 + n)
	return append(out, r.b[at+4:at+4+n]...), nil
}

// huffman is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type huffman struct {
	count  [maxCodeBits + 1]int
	symbol []int
}

const maxCodeBits = 15

func newHuffman(lengths []int) huffman {
	var h huffman
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	var offs [maxCodeBits + 2]int
	for l := 1; l <= maxCodeBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = make([]int, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	return h
}

// decode reads one symbol (Huffman codes are packed most significant bit
// first).
func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= maxCodeBits; l++ {
		code |= r.bits(1)
		count := h.count[l]
		if code-first < count {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("wstest: bad Huffman code")
}

// The fixed literal/length code of RFC 1951 section 3.2.6.
var fixedLit = func() huffman {
	lengths := make([]int, 288)
	for i := range lengths {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	return newHuffman(lengths)
}()

// codeLengthOrder is the order of the code length code's lengths.
var codeLengthOrder = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamicTables reads a dynamic block's code tables and returns its
// literal/length code (its distance code is read and not needed).
func (r *bitReader) dynamicTables() (huffman, error) {
	nlen, ndist, ncode := r.bits(5)+257, r.bits(5)+1, r.bits(4)+4
	var clen [19]int
	for i := range ncode {
		clen[codeLengthOrder[i]] = r.bits(3)
	}
	lencode := newHuffman(clen[:])
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := r.decode(&lencode)
		if err != nil {
			return huffman{}, err
		}
		switch {
		case sym < 16:
			lengths = append(lengths, sym)
			continue
		case sym == 16 && len(lengths) == 0:
			return huffman{}, errors.New("wstest: repeat with no previous length")
		}
		rep, val := 0, 0
		switch sym {
		case 16:
			rep, val = 3+r.bits(2), lengths[len(lengths)-1]
		case 17:
			rep = 3 + r.bits(3)
		default:
			rep = 11 + r.bits(7)
		}
		for range rep {
			lengths = append(lengths, val)
		}
	}
	if len(lengths) > nlen+ndist {
		return huffman{}, errors.New("wstest: code lengths overrun")
	}
	return newHuffman(lengths[:nlen]), nil
}

// codes decodes a Huffman-coded block's symbols up to its end.
func (r *bitReader) codes(out []byte, lit *huffman) ([]byte, error) {
	for {
		sym, err := r.decode(lit)
		switch {
		case err != nil:
			return out, err
		case r.err != nil:
			return out, r.err
		case sym < 256:
			out = append(out, byte(sym))
		case sym == 256:
			return out, nil
		default:
			return out, fmt.Errorf("%w (length symbol %d)", ErrBackReference, sym)
		}
	}
}
