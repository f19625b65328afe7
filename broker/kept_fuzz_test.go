package broker

import (
	"bytes"
	"testing"
)

// FuzzKeptRecord: a record as filed (wrapKept) reads back as it was, and
// any bytes a bucket may hold read without a panic, as no record or as
// one whose node holds no newline.
func FuzzKeptRecord(f *testing.F) {
	f.Add("a", true, []byte(`{"sid":"x","nsp":"/"}`))
	f.Add("node%2E1", false, []byte{})
	f.Add("", true, []byte("c\n\n"))
	f.Fuzz(func(t *testing.T, node string, connected bool, val []byte) {
		if !bytes.ContainsRune([]byte(node), '\n') {
			n, c, v, ok := unwrapKept(wrapKept(node, connected, val))
			if !ok || n != node || c != connected || !bytes.Equal(v, val) {
				t.Fatalf("round trip of %q %v %q: %q %v %q %v", node, connected, val, n, c, v, ok)
			}
		}
		if n, _, _, ok := unwrapKept(val); ok && bytes.ContainsRune([]byte(n), '\n') {
			t.Fatalf("node %q with a newline from %q", n, val)
		}
	})
}
