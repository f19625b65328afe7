package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

// TestUserPollPublishFlags: -max-conns-per-user, -max-polls-per-ip and
// -publish-rate refuse what passes them, and /metrics counts each by
// reason.
func TestUserPollPublishFlags(t *testing.T) {
	t.Parallel()
	const secret = "flag-test-secret-0123456789abcdef"
	in := startC1M(t, "-auth", "optional", "-jwt-secret", secret, "-max-conns-per-user", "1",
		"-max-polls-per-ip", "1", "-poll-timeout", "5s", "-publish-rate", "0.01", "-publish-burst", "1", "-demo-publish")
	ann := signed(t, jwt.SigningMethodHS256, []byte(secret), "ann")
	in.dial(t, "?token="+ann)
	if st := in.dialStatus(t, "?token="+ann); st != http.StatusTooManyRequests {
		t.Fatalf("ann's second session: %d, want 429", st)
	}
	base := strings.Replace(strings.TrimSuffix(in.clients, "/ws"), "ws://", "http://", 1)
	// One poll held at a time, again and again until the test ends: a
	// held poll that met one of the probes below in the slot was refused
	// itself, and one that reached -poll-timeout ended.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/poll?topic=t", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/poll?topic=t&wait=0")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			break // the held poll took the slot
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second poll: %d, want 429", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub := in.dial(t, "")
	for i, want := range []string{`{"op":"ok","id":1}`, `{"op":"error","id":2,"error":"publish rate limited"}`} {
		if err := pub.WriteMessage(websocket.TextMessage, []byte(`{"op":"publish","topic":"t","data":"x","id":`+string(rune('1'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
		if _, m, err := pub.ReadMessage(); err != nil || string(m) != want {
			t.Fatalf("publish %d: %q %v, want %s", i+1, m, err, want)
		}
	}
	resp, err := http.Get(in.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`reason="per_user_limit"} 1`, `c1m_auth_denials_total{reason="publish_rate"} 1`} {
		if !strings.Contains(string(body), line) {
			t.Errorf("/metrics has no %s", line)
		}
	}
	// The held poll may have been refused too, when it met a probe.
	if !regexp.MustCompile(`reason="polls_per_ip"} [1-9]`).Match(body) {
		t.Errorf("/metrics counts no poll refused by -max-polls-per-ip")
	}
}

// TestProxyProtocolFlag: -proxy-protocol needs -trusted-proxies, and with
// them a connection without the header is refused in required mode.
func TestProxyProtocolFlag(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-proxy-protocol", "required")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "-trusted-proxies") {
		t.Fatalf("without -trusted-proxies: %v %s", err, out)
	}
	in := startC1M(t, "-proxy-protocol", "required", "-trusted-proxies", "127.0.0.1")
	if st := in.dialStatus(t, ""); st != http.StatusBadRequest {
		t.Fatalf("no header from the trusted proxy: %d, want 400", st)
	}
}
