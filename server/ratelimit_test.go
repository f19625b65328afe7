package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// TestCommandRate: a session that floods publish commands gets "rate
// limited" error replies past its burst, then close 1008, while another
// client on the same server receives every publication meant for it.
func TestCommandRate(t *testing.T) {
	t.Parallel()
	const burst, flood, news = 5, 1000, 200
	push := server.NewPush(&server.PushConfig{ClientPublish: true, CommandRate: 10, CommandBurst: burst})
	srv, addr := start(t, push, server.Config{})

	reader, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?topic=news", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reader.Close() })
	flooder, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flooder.Close() })

	// The reader counts what reaches it, in order.
	got := make(chan error, 1)
	go func() {
		_ = reader.SetReadDeadline(time.Now().Add(10 * time.Second))
		for i := range news {
			_, m, err := reader.ReadMessage()
			if err != nil {
				got <- fmt.Errorf("after %d deliveries: %w", i, err)
				return
			}
			if want := "n" + strconv.Itoa(i); string(m) != want {
				got <- fmt.Errorf("delivery %d is %q, want %q", i, m, want)
				return
			}
		}
		got <- nil
	}()
	// The flooder sends without waiting; the backend publishes meanwhile.
	go func() {
		for i := range flood {
			if err := flooder.WriteMessage(websocket.TextMessage, []byte(`{"op":"publish","topic":"spam","data":"x","id":`+strconv.Itoa(i)+`}`)); err != nil {
				return // closed by the server
			}
		}
	}()
	go func() {
		for i := range news {
			if _, err := srv.Hub().Publish("news", []byte("n"+strconv.Itoa(i))); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
		}
	}()

	var ok, limited int
	_ = flooder.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, m, err := flooder.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.ClosePolicyViolation || ce.Text != server.ReasonRateLimited {
				t.Fatalf("flooder closed with %d %q, want 1008 %q", ce.Code, ce.Text, server.ReasonRateLimited)
			}
			break
		}
		if err != nil {
			t.Fatalf("flooder after %d ok and %d refused: %v", ok, limited, err)
		}
		var r struct{ Op, Error string }
		if err := json.Unmarshal(m, &r); err != nil {
			t.Fatalf("reply %q: %v", m, err)
		}
		switch {
		case r.Op == "ok":
			ok++
		case r.Op == "error" && r.Error == server.ReasonRateLimited:
			limited++
		default:
			t.Fatalf("reply %q", m)
		}
	}
	// The burst, and what the rate refilled while the flood ran, pass;
	// then three bursts' worth of refusals before the close.
	if ok < burst || ok > burst+5 || limited < 3*burst {
		t.Fatalf("flooder got %d ok and %d refused, want %d to %d ok and at least %d refused", ok, limited, burst, burst+5, 3*burst)
	}
	if err := <-got; err != nil {
		t.Fatalf("reader: %v", err)
	}
	var closed uint64
	for _, sh := range server.Shards(srv) {
		closed += sh.Stats().Evictions(session.ReasonRateLimited)
	}
	if closed != 1 {
		t.Fatalf("rate_limited counted %d, want 1", closed)
	}
}
