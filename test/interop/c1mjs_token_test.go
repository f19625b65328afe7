package interop

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/browsertest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

//go:embed browser/c1mjs-token.html
var c1mjsTokenPage []byte

// c1mjsTokenN is how many publications the token page gets before and
// after its refresh, per transport.
const c1mjsTokenN = 5

// tokenSecret signs the token test's tokens.
var tokenSecret = []byte("interop-token-secret-0123456789ab")

// TestC1mJSToken loads browser/c1mjs-token.html in every browser engine,
// against a server that requires a token: on WebSocket, SSE, /stream and
// long-polling at once, c1m.js connects with options.token, hands over a
// new token with refresh() before the first expires (another user's token
// is refused), and keeps receiving on the same connection after the first
// token's exp. The server then counts no session closed for an expired
// token, and the three refused refreshes.
func TestC1mJSToken(t *testing.T) {
	t.Parallel()
	for _, e := range browsertest.All() {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			browsertest.Require(t, e)
			runC1mJSToken(t, e)
		})
	}
}

func runC1mJSToken(t *testing.T, e browsertest.Engine) {
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{tokenSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	push := server.NewPush(&server.PushConfig{Tokens: v, TokenRequired: true})
	transports := []string{"websocket", "sse", "stream", "poll"}
	signals := make(chan string, 16)
	pages := map[string]server.Page{
		"/": {ContentType: "text/html; charset=utf-8", Body: c1mjsTokenPage},
		// Fresh tokens when the page asks, whatever the browser took to
		// start. Render runs on the loop: signing with HMAC is quick.
		"/plan": {ContentType: "application/json", Render: func() []byte {
			exp := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
			b, _ := json.Marshal(map[string]any{
				"short": sign(exp, "ann"), "long": sign(time.Now().Add(time.Hour), "ann"),
				"other": sign(time.Now().Add(time.Hour), "bob"), "expMs": exp.UnixMilli(),
				"n": c1mjsTokenN, "transports": transports,
			})
			return b
		}},
	}
	for _, tr := range transports {
		for _, name := range []string{"token-" + tr, "token-" + tr + ".after"} {
			pages["/go/"+name] = server.Page{ContentType: "text/plain", Render: func() []byte {
				select { // on the event loop: never block
				case signals <- name:
				default:
				}
				return []byte("ok\n")
			}}
		}
	}
	srv := server.New(push, &server.Config{
		Addr: "127.0.0.1:0", Loops: 1, Protocols: []string{codec.EnvelopeProtocol},
		History: session.HistoryConfig{Size: 100, TTL: time.Minute}, Pages: pages,
		DrainTimeout: 2 * time.Second, DrainSpread: -1,
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	for _, tr := range transports { // a poll client's topic keeps its numbering between polls
		if _, err := srv.Hub().Publish("token-"+tr, []byte("prime")); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-signals:
				topic, after := strings.CutSuffix(sig, ".after")
				prefix := "a"
				if after {
					prefix = "b"
				}
				for i := 1; i <= c1mjsTokenN; i++ {
					if _, err := srv.Hub().Publish(topic, []byte(fmt.Sprint(prefix, i))); err != nil {
						t.Errorf("publish to %s: %v", topic, err)
					}
				}
			}
		}
	}()
	raw, err := browsertest.Run(ctx, t, e, "http://"+srv.Addr().String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Name, Transport, Detail string
			OK                      bool
			Got                     int
			States                  []string
		} `json:"steps"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("verdict %s: %v", raw, err)
	}
	if len(got.Steps) != len(transports) {
		t.Fatalf("%d of %d transports ran: %s", len(got.Steps), len(transports), raw)
	}
	for i, st := range got.Steps {
		if !st.OK || st.Transport != transports[i] || st.Got != 2*c1mjsTokenN {
			t.Errorf("%s: ok %v on %s, %d of %d publications: %s (states %v)", st.Name, st.OK, st.Transport, st.Got, 2*c1mjsTokenN, st.Detail, st.States)
		}
	}
	if n := push.Denials(server.DenyExpiredSession); n != 0 {
		t.Errorf("%d sessions closed for an expired token", n)
	}
	if n := push.Denials(server.DenyRefresh); n != 3 {
		t.Errorf("%d refused refreshes counted, want 3 (another user's, on WebSocket, SSE, /stream)", n)
	}
}

// sign returns an HS256 token of sub that expires at exp.
func sign(exp time.Time, sub string) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": exp.Unix()}).SignedString(tokenSecret)
	if err != nil {
		panic(err)
	}
	return s
}
