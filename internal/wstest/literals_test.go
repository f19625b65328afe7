package wstest

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

// compress is a permessage-deflate payload of msg at a compress/flate level.
func compress(t *testing.T, level int, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(msg)
	_ = fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), deflateTail)
}

func TestLiteralsOnly(t *testing.T) {
	t.Parallel()
	repetitive := []byte(strings.Repeat(`{"topic":"prices","data":{"bid":101.25}}`, 50))
	cases := []struct {
		name  string
		level int
		msg   []byte
		err   error
	}{
		{"huffman only", flate.HuffmanOnly, repetitive, nil},
		{"huffman only, empty", flate.HuffmanOnly, nil, nil},
		{"stored", flate.NoCompression, repetitive, nil},
		{"best speed refers back", flate.BestSpeed, repetitive, ErrBackReference},
		{"best compression refers back", flate.BestCompression, repetitive, ErrBackReference},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LiteralsOnly(compress(t, tc.level, tc.msg))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && !bytes.Equal(got, tc.msg) {
				t.Fatalf("decoded %d bytes, want the %d sent", len(got), len(tc.msg))
			}
		})
	}
	// Fixed Huffman codes: one block, "abc" and the end of block, as RFC
	// 1951 section 3.2.6 codes them (literals 0-143: 8 bits from 0x30).
	if got, err := LiteralsOnly([]byte{0x4a, 0x4c, 0x4a, 0x06, 0x00}); err != nil || string(got) != "abc" {
		t.Fatalf("fixed block: %q %v", got, err)
	}
}
