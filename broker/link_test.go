package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestLinkAfterHistoryExpired: once every publication of the history
// stream has passed its age limit, the stream is empty but its last
// sequence is not 0. A node that starts then has nothing to read and
// links at once; it used to wait for a message that never came and
// refuse to start after CatchUpTimeout.
func TestLinkAfterHistoryExpired(t *testing.T) {
	ns := natstest.Start(t)
	history := session.HistoryConfig{Size: 10, TTL: time.Second}
	start := func(id string) (*broker.Broker, error) {
		srv := server.New(nil, &server.Config{Addr: "127.0.0.1:0", History: history})
		return broker.Start((*session.Hub)(srv.Hub()), &broker.Config{
			URL: ns.URL(), NodeID: id, History: history, CatchUpTimeout: 5 * time.Second,
		})
	}
	a, err := start("a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 3 {
		if _, err := a.Publish("news", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the history stream has expired everything it held.
	_, js := natstest.Connect(t, ns.URL())
	deadline := time.Now().Add(15 * time.Second)
	for {
		empty := false
		for name := range js.StreamNames(context.Background()).Name() {
			if !strings.HasSuffix(name, "_H") {
				continue
			}
			st, err := js.Stream(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			empty = info.State.Msgs == 0 && info.State.LastSeq >= 3
		}
		if empty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the history stream did not expire its publications")
		}
		time.Sleep(100 * time.Millisecond)
	}
	began := time.Now()
	b, err := start("b")
	if err != nil {
		t.Fatalf("a node starting on an expired history: %v (after %s)", err, time.Since(began).Round(time.Millisecond))
	}
	b.Close()
}
