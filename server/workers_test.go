package server_test

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// keeper keeps every message's Data as it was handed over, without copying:
// with Config.Workers, Message.Data is the handler's own.
type keeper struct {
	server.BuiltinHandler
	mu      sync.Mutex
	kept    [][]byte
	handled chan struct{}
}

func (k *keeper) OnMessage(_ *server.Session, m server.Message) {
	k.mu.Lock()
	k.kept = append(k.kept, m.Data)
	k.mu.Unlock()
	k.handled <- struct{}{}
}

// TestWorkersMessageDataIsOwned: a handler on a worker may keep
// Message.Data; later messages do not overwrite it.
//
// Not parallel: it runs with one P and one message at a time, so that a
// buffer a worker would give back to a sync.Pool is the one the loop takes
// for the next message (pools are per P), as it would be sooner or later
// on any machine.
func TestWorkersMessageDataIsOwned(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const msgs = 32
	k := &keeper{handled: make(chan struct{})}
	_, addr := start(t, k, server.Config{Workers: 1})
	c := wstest.Upgrade(t, addr, "/ws")
	payload := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "%03d", i), 100) }
	for i := range msgs {
		c.Write(wstest.Text(string(payload(i))))
		<-k.handled
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, got := range k.kept {
		if !bytes.Equal(got, payload(i)) {
			t.Fatalf("message %d was overwritten after OnMessage: %.12q...", i, got)
		}
	}
}
