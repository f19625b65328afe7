package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLimitFlags: -max-conns-per-ip refuses the connection over the cap
// with 429, -command-rate closes a flooding session with 1008, and both
// show in /metrics by reason.
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	in := startC1M(t, "-max-conns-per-ip", "2", "-handshake-rate", "1000", "-command-rate", "1", "-command-burst", "1", "-demo-publish")
	flooder := in.dial(t, "")
	in.dial(t, "")
	_, resp, err := websocket.DefaultDialer.Dial(in.clients, nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %v, want 429 with Retry-After", err)
	}

	go func() {
		for range 100 {
			if flooder.WriteMessage(websocket.TextMessage, []byte(`{"op":"publish","topic":"t","data":"x"}`)) != nil {
				return
			}
		}
	}()
	_ = flooder.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := flooder.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.ClosePolicyViolation || ce.Text != "rate limited" {
				t.Fatalf("closed with %d %q, want 1008 rate limited", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	resp, err = http.Get(in.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, reason := range []string{`reason="per_ip_limit"} 1`, `reason="rate_limited"} 1`} {
		if !strings.Contains(string(body), reason) {
			t.Errorf("/metrics has no %s", reason)
		}
	}
}
