package socketio

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/session"
)

var testSecret = []byte("socketio-test-secret-0123456789ab")

func signToken(t *testing.T, sub string, exp time.Duration, extra ...any) string {
	t.Helper()
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(exp).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pushRig(t *testing.T, cfg *Config, pc *PushConfig) *rig {
	srv := New(cfg)
	ServePush(srv.Of("/"), pc)
	return newRig(t, srv, session.HistoryConfig{})
}

// TestPushEvents: subscribe and unsubscribe with acks, publish refused
// unless allowed, then allowed and received by the room.
func TestPushEvents(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("publish=", allow), func(t *testing.T) {
			t.Parallel()
			r := pushRig(t, nil, &PushConfig{ClientPublish: allow})
			c := r.open()
			c.send("0")
			c.expectPrefix(`0{"sid":"`)
			c.send(`21["subscribe",["a","b"]]`)
			c.expect(`31[null]`)
			c.send(`22["subscribe","bad name"]`)
			c.expect(`32["invalid room name"]`)
			c.send(`23["subscribe"]`)
			c.expect(`33["bad arguments"]`)
			c.send(`24["publish","a",{"x":1}]`)
			if !allow {
				c.expect(`34["publishing is not allowed"]`)
				return
			}
			// The ack is written at once; the publication comes through
			// the shard's inbox: either may come first.
			c.expectSet(`2["message",{"x":1}]`, `34[null]`)
			c.send(`25["unsubscribe","a"]`)
			c.expect(`35[null]`)
			c.send(`26["publish","a","text"]`)
			c.expect(`36[null]`)
			c.send(`27["publish","b","text"]`)
			c.expectSet(`2["message","text"]`, `37[null]`)
		})
	}
}

// TestTokens checks the auth payload's token: refused ones get the
// reason as connect_error, an accepted one makes its sub the user, and
// the policy applies to rooms and publishing.
func TestTokens(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{testSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Tokens: v, TokenRequired: true}
	cases := []struct {
		name, auth, want string
	}{
		{"none", `{}`, `4{"message":"token required"}`},
		{"expired", fmt.Sprintf(`{"token":%q}`, signToken(t, "ann", -time.Minute)), `4{"message":"token expired"}`},
		{"bad", `{"token":"x.y.z"}`, `4{"message":"invalid token"}`},
		{"no sub", fmt.Sprintf(`{"token":%q}`, signToken(t, "", time.Hour)), `4{"message":"token has no sub"}`},
	}
	for _, tc := range cases {
		r := pushRig(t, cfg, &PushConfig{ClientPublish: true})
		c := r.open()
		c.send("0" + tc.auth)
		c.expect(tc.want)
	}
	r := pushRig(t, cfg, &PushConfig{ClientPublish: true})
	c := r.open()
	tok := signToken(t, "ann", time.Hour, "topics", []string{"news"}, "publish", []string{"news"})
	c.send(fmt.Sprintf(`0{"token":%q}`, tok))
	c.expectPrefix(`0{"sid":"`)
	c.send(`21["subscribe","news"]`)
	c.expect(`31[null]`)
	c.send(`22["subscribe","other"]`)
	c.expect(`32["room not allowed"]`)
	c.send(`23["publish","other","x"]`)
	c.expect(`33["publishing is not allowed"]`)
	// The sub is the session's user: SendToUser reaches it.
	if err := r.hub.SendToUser("ann", []byte("for ann")); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["message","for ann"]`)
}

// TestEventRate: past the burst an event is refused with "rate limited";
// a client that keeps sending is closed.
func TestEventRate(t *testing.T) {
	t.Parallel()
	r := pushRig(t, nil, &PushConfig{EventRate: 0.001, EventBurst: 2})
	c := r.open()
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	c.send(`21["subscribe","a"]`)
	c.expect(`31[null]`)
	c.send(`22["subscribe","b"]`)
	c.expect(`32[null]`)
	for i := 3; i < 3+rateStrikes*2; i++ {
		c.send(fmt.Sprintf(`2%d["subscribe","c"]`, i))
		c.expect(fmt.Sprintf(`3%d["rate limited"]`, i))
		if c.rec.isClosed() {
			t.Fatalf("closed after %d refusals", i-2)
		}
	}
	c.send(`299["subscribe","c"]`)
	if reason := c.rec.waitClosed(t); reason != ReasonRateLimited {
		t.Fatalf("closed with %q", reason)
	}
}

// TestTokenExpiry closes a client when its token's exp passes.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{testSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	r := pushRig(t, &Config{Tokens: v}, nil)
	c := r.open()
	// jwt's exp has a resolution of a second: the token expires within 2.
	c.send(fmt.Sprintf(`0{"token":%q}`, signToken(t, "ann", 1500*time.Millisecond)))
	c.expectPrefix(`0{"sid":"`)
	if reason := c.rec.waitClosed(t); reason != ReasonTokenExpired {
		t.Fatalf("closed with %q", reason)
	}
}
