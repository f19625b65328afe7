package server

import (
	"testing"
	"unsafe"
)

// connBudget is the size class a connection's state must fit: the Go
// allocator rounds 257 bytes up to 288, so one field more costs 32 bytes
// for every idle connection (32 MB at 1M). gnet's own connection is about
// 420 bytes of heap more (bench: gnetfloor).
const connBudget = 256

func TestConnFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(conn{}); size > connBudget {
		t.Fatalf("conn is %d bytes, over its budget of %d: an idle connection costs the next size class", size, connBudget)
	}
}

// eioBudget is the size class of an Engine.IO session's state.
const eioBudget = 256

func TestEIOSessionFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(eioSess{}); size > eioBudget {
		t.Fatalf("eioSess is %d bytes, over its budget of %d: an idle Engine.IO session costs the next size class", size, eioBudget)
	}
}
