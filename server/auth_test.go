package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/internal/wstest"
	"github.com/c1mhq/c1m/server"
)

// The keys of the auth tests: an HS256 secret and an RS256 key pair.
var (
	authSecret = []byte("wire-test-secret-0123456789abcdef")
	authRSA    = func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}()
)

// authServer runs a push server whose clients present tokens signed with
// authSecret or authRSA; required refuses anonymous ones.
func authServer(t testing.TB, required bool) (*server.Server, string) {
	t.Helper()
	return authServerWith(t, required, server.Config{})
}

// authServerWith is authServer with cfg (PollTimeout set short).
func authServerWith(t testing.TB, required bool, cfg server.Config) (*server.Server, string) {
	t.Helper()
	cfg.PollTimeout = 20 * time.Millisecond
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{
		Secrets: [][]byte{authSecret},
		Public:  []any{&authRSA.PublicKey},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return start(t, server.NewPush(&server.PushConfig{
		Tokens: v, TokenRequired: required, ClientPublish: true,
	}), cfg)
}

// token signs claims for sub with method and key; exp from now; extra
// claims in pairs.
func token(t testing.TB, m jwt.SigningMethod, key any, sub string, exp time.Duration, extra ...any) string {
	t.Helper()
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(exp).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hsToken(t testing.TB, sub string, extra ...any) string {
	return token(t, jwt.SigningMethodHS256, authSecret, sub, time.Hour, extra...)
}

// rsaPublicPEM is authRSA's public key as a PEM text: what an HS/RS
// confusion attack uses as the HMAC secret.
func rsaPublicPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(&authRSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// connectStatus opens transport with query and returns the status of the
// answer: 101 for a WebSocket that opened.
func connectStatus(t *testing.T, addr, transport string, query url.Values) (int, string) {
	t.Helper()
	switch transport {
	case "websocket":
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?"+query.Encode(), nil)
		if err == nil {
			c.Close()
			return http.StatusSwitchingProtocols, ""
		}
		if resp == nil {
			t.Fatalf("websocket: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	case "sse", "stream", "iframe":
		path := "/" + transport + "?" + query.Encode()
		if transport == "iframe" {
			path += "&callback=" + iframeCallback
		}
		s := dialStream(t, addr, path, "")
		defer s.close()
		b := ""
		if s.resp.StatusCode != http.StatusOK {
			bb, _ := io.ReadAll(s.resp.Body)
			b = string(bb)
		}
		return s.resp.StatusCode, b
	case "poll":
		return get(t, "http://"+addr+"/poll?"+query.Encode())
	case "send":
		// A poll client's publish to a public topic.
		resp, err := httpClient.Post("http://"+addr+"/send?"+query.Encode(), "application/json",
			strings.NewReader(`{"op":"publish","topic":"pub","data":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Fatalf("unknown transport %q", transport)
	return 0, ""
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthPerTransport: the table of token cases on each transport, with
// -auth required and optional. Every refusal comes before anything opens:
// the server holds no session afterwards.
func TestAuthPerTransport(t *testing.T) {
	t.Parallel()
	required, reqAddr := authServer(t, true)
	optional, optAddr := authServer(t, false)
	ok := map[string]int{"websocket": 101, "sse": 200, "stream": 200, "iframe": 200, "poll": 200, "send": 200}
	cases := []struct {
		name     string
		token    string
		topic    string
		required int // status with -auth required; 0: success
		optional int // status with -auth optional; 0: success
		reason   string
	}{
		{"valid", hsToken(t, "ann"), "news", 0, 0, ""},
		{"valid RS256", token(t, jwt.SigningMethodRS256, authRSA, "ann", time.Hour), "news", 0, 0, ""},
		{"no token", "", "news", 401, 0, server.ReasonTokenRequired},
		{"expired", token(t, jwt.SigningMethodHS256, authSecret, "ann", -time.Minute), "news", 401, 401, server.ReasonTokenExpired},
		{"wrong signature", token(t, jwt.SigningMethodHS256, []byte("not-the-secret-0123456789abcdef"), "ann", time.Hour), "news", 401, 401, server.ReasonTokenInvalid},
		{"alg none", token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ann", time.Hour), "news", 401, 401, server.ReasonTokenInvalid},
		{"HS256 signed with the RSA public key", token(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "ann", time.Hour), "news", 401, 401, server.ReasonTokenInvalid},
		{"no sub", token(t, jwt.SigningMethodHS256, authSecret, "", time.Hour), "news", 401, 401, server.ReasonNoSubject},
		{"topic outside the claim", hsToken(t, "ann", "topics", []string{"news"}), "sports", 403, 403, server.ReasonTopicDenied},
		{"topic inside a prefix claim", hsToken(t, "ann", "topics", []string{"private:ann:*"}), "private:ann:x", 0, 0, ""},
		{"private topic without a claim", hsToken(t, "ann"), "private:x", 403, 403, server.ReasonTopicDenied},
		{"anonymous private topic", "", "private:x", 401, 403, ""},
		{"another user's topic", hsToken(t, "ann"), "user:bob:inbox", 403, 403, server.ReasonTopicDenied},
		{"own user topic", hsToken(t, "ann"), "user:ann:inbox", 0, 0, ""},
	}
	for _, transport := range []string{"websocket", "sse", "stream", "iframe", "poll", "send"} {
		for _, tc := range cases {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				q := url.Values{}
				if tc.token != "" {
					q.Set("token", tc.token)
				}
				if transport != "send" {
					q.Set("topic", tc.topic)
				} else if tc.topic != "news" {
					t.Skip("/send without a stream takes no topic")
				}
				for _, mode := range []struct {
					name string
					addr string
					want int
				}{{"required", reqAddr, tc.required}, {"optional", optAddr, tc.optional}} {
					want := mode.want
					if want == 0 {
						want = ok[transport]
					}
					status, body := connectStatus(t, mode.addr, transport, q)
					if status != want {
						t.Fatalf("%s: status %d %q, want %d", mode.name, status, body, want)
					}
					if want >= 400 && tc.reason != "" && !strings.Contains(body, tc.reason) {
						t.Fatalf("%s: body %q, want the reason %q", mode.name, body, tc.reason)
					}
				}
			})
		}
	}
	t.Cleanup(func() {
		for _, srv := range []*server.Server{required, optional} {
			waitFor(t, "no sessions left", func() bool { return sessions(srv) == 0 })
		}
	})
}

// TestTokenSources: the token is read from the query, an Authorization
// Bearer header, and the cookie; a bad one anywhere is refused.
func TestTokenSources(t *testing.T) {
	t.Parallel()
	_, addr := authServer(t, true)
	good, bad := hsToken(t, "ann"), token(t, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef012"), "ann", time.Hour)
	for _, tc := range []struct {
		name, path, header string
		want               int
	}{
		{"query", "/sse?token=" + good, "", 200},
		{"bearer", "/sse", "Authorization: Bearer " + good + "\r\n", 200},
		{"cookie", "/sse", "Cookie: a=b; c1m_token=" + good + "; c=d\r\n", 200},
		{"other cookie", "/sse", "Cookie: token=" + good + "\r\n", 401},
		{"basic auth", "/sse", "Authorization: Basic " + good + "\r\n", 401},
		{"bad bearer", "/sse", "Authorization: Bearer " + bad + "\r\n", 401},
		{"bad cookie", "/sse", "Cookie: c1m_token=" + bad + "\r\n", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := dialStream(t, addr, tc.path, tc.header)
			if s.resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", s.resp.StatusCode, tc.want)
			}
		})
	}
}

// wsClient dials /ws with query and reads its messages.
func wsClient(t *testing.T, addr string, query url.Values) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?"+query.Encode(), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wsExchange(t *testing.T, c *websocket.Conn, cmd, want string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	wsExpect(t, c, want)
}

func wsExpect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
	_, p, err := c.ReadMessage()
	if err != nil || string(p) != want {
		t.Fatalf("got %q %v, want %q", p, err, want)
	}
}

// TestAuthCommandsWebSocket: subscribe and publish commands outside the
// claims get an error reply, and the topic's publications never reach the
// client: the next message after them is one it may have.
func TestAuthCommandsWebSocket(t *testing.T) {
	t.Parallel()
	srv, addr := authServer(t, false)
	for _, tc := range []struct {
		name, token, denied, allowed string
		op, reason                   string
	}{
		{"topic outside the claim", hsToken(t, "ann", "topics", []string{"news"}), "sports", "news", "subscribe", server.ReasonTopicDenied},
		{"private without a claim", hsToken(t, "ann"), "private:x", "open", "subscribe", server.ReasonTopicDenied},
		{"another user's topic", hsToken(t, "ann"), "user:bob:x", "user:ann:x", "subscribe", server.ReasonTopicDenied},
		{"anonymous private", "", "private:y", "open2", "subscribe", server.ReasonTopicDenied},
		{"publish outside the claim", hsToken(t, "ann", "publish", []string{"chat:*"}), "news2", "chat:a", "publish", server.ReasonPublishDenied},
		{"anonymous publish to private", "", "private:z", "open3", "publish", server.ReasonPublishDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := url.Values{}
			if tc.token != "" {
				q.Set("token", tc.token)
			}
			c := wsClient(t, addr, q)
			if tc.op == "subscribe" {
				wsExchange(t, c, fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":1}`, tc.denied),
					fmt.Sprintf(`{"op":"error","id":1,"error":%q}`, tc.reason))
				wsExchange(t, c, fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":2}`, tc.allowed), `{"op":"ok","id":2}`)
				// The denied topic's publication first: were it
				// delivered, it would arrive before the allowed one.
				publishRange(t, srv, tc.denied, "secret", 0, 1)
				publishRange(t, srv, tc.allowed, "fine", 0, 1)
				wsExpect(t, c, "fine0")
				return
			}
			// A watcher with every right sees what was published.
			w := wsClient(t, addr, url.Values{"token": {hsToken(t, "root", "topics", []string{"*"})}, "topic": {tc.denied, tc.allowed}})
			wsExchange(t, c, fmt.Sprintf(`{"op":"publish","topic":%q,"data":"no","id":1}`, tc.denied),
				fmt.Sprintf(`{"op":"error","id":1,"error":%q}`, tc.reason))
			wsExchange(t, c, fmt.Sprintf(`{"op":"publish","topic":%q,"data":"yes","id":2}`, tc.allowed), `{"op":"ok","id":2}`)
			wsExpect(t, w, "yes")
		})
	}
}

// TestAuthSubscribeOverSend: a stream's subscribe command through /send is
// held to the stream's claims; /send itself needs a token in required mode.
func TestAuthSubscribeOverSend(t *testing.T) {
	t.Parallel()
	srv, addr := authServer(t, true)
	tok := hsToken(t, "ann", "topics", []string{"news"})
	s := openStream(t, addr, "/sse?token="+tok, "")
	post := func(query, cmd string) int {
		resp, err := httpClient.Post("http://"+addr+"/send?"+query, "application/json", strings.NewReader(cmd))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("sid="+s.sid, `{"op":"subscribe","topic":"news","id":1}`); st != http.StatusUnauthorized {
		t.Fatalf("/send without a token: status %d, want 401", st)
	}
	if st := post("sid="+s.sid+"&token="+tok, `{"op":"subscribe","topic":"sports","id":2}`); st != http.StatusAccepted {
		t.Fatalf("/send: status %d, want 202", st)
	}
	s.expectReply(fmt.Sprintf(`{"op":"error","id":2,"error":%q}`, server.ReasonTopicDenied))
	if st := post("sid="+s.sid+"&token="+tok, `{"op":"subscribe","topic":"news","id":3}`); st != http.StatusAccepted {
		t.Fatalf("/send: status %d, want 202", st)
	}
	s.expectStart("news", false)
	s.expectReply(`{"op":"ok","id":3}`)
	publishRange(t, srv, "sports", "secret", 0, 1)
	publishRange(t, srv, "news", "m", 0, 1)
	s.expectPubs("news", "m", 0, 1, 1)
}

// TestAuthPollCursor: the topics a poll cursor names are held to the
// claims of the request that brings it back, like topic parameters.
func TestAuthPollCursor(t *testing.T) {
	t.Parallel()
	srv, addr := authServer(t, false)
	root := hsToken(t, "root", "topics", []string{"*"})
	first := poll(t, addr, url.Values{"token": {root}, "topic": {"private:x"}})
	publishRange(t, srv, "private:x", "secret", 0, 1)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"anonymous", "", 403},
		{"claim without the topic", hsToken(t, "ann", "topics", []string{"news"}), 403},
		{"the same rights", root, 200},
	} {
		q := url.Values{"cursor": {first.Cursor}}
		if tc.token != "" {
			q.Set("token", tc.token)
		}
		status, body := get(t, "http://"+addr+"/poll?"+q.Encode())
		if status != tc.want {
			t.Fatalf("%s: status %d %q, want %d", tc.name, status, body, tc.want)
		}
		if tc.want != 200 && strings.Contains(body, "secret") {
			t.Fatalf("%s: a refused poll carried the publication: %q", tc.name, body)
		}
	}
}

// TestAuthDenialCounts: each refusal is counted once, under its reason.
func TestAuthDenialCounts(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{authSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	push := server.NewPush(&server.PushConfig{Tokens: v, TokenRequired: true, ClientPublish: true})
	_, addr := start(t, push, server.Config{})
	tok := hsToken(t, "ann", "topics", []string{"news"}, "publish", []string{"news"})
	for _, q := range []string{
		"topic=news",
		"topic=news&token=" + token(t, jwt.SigningMethodHS256, authSecret, "ann", -time.Minute),
		"topic=news&token=" + token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ann", time.Hour),
		"topic=news&token=" + token(t, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef012"), "ann", time.Hour),
		"topic=news&token=" + token(t, jwt.SigningMethodHS256, authSecret, "", time.Hour),
		"topic=sports&token=" + tok,
	} {
		if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?"+q, nil); err == nil || resp == nil || resp.StatusCode < 400 {
			t.Fatalf("%s: accepted", q)
		}
	}
	c := wsClient(t, addr, url.Values{"token": {tok}})
	wsExchange(t, c, `{"op":"subscribe","topic":"sports","id":1}`, fmt.Sprintf(`{"op":"error","id":1,"error":%q}`, server.ReasonTopicDenied))
	wsExchange(t, c, `{"op":"publish","topic":"sports","data":"x","id":2}`, fmt.Sprintf(`{"op":"error","id":2,"error":%q}`, server.ReasonPublishDenied))
	wsExchange(t, c, `{"op":"subscribe","topic":"news","id":3}`, `{"op":"ok","id":3}`)
	want := map[server.Denial]uint64{
		server.DenyTokenRequired: 1, server.DenyTokenExpired: 1, server.DenyTokenInvalid: 2,
		server.DenyNoSubject: 1, server.DenyTopic: 1, server.DenySubscribe: 1, server.DenyPublish: 1,
	}
	for _, d := range server.AllDenials() {
		if got := push.Denials(d); got != want[d] {
			t.Errorf("%s: %d denials, want %d", d, got, want[d])
		}
	}
}

// TestAuthSessionExpires: a session whose token's exp passes is closed:
// a WebSocket with 1008 "token expired", an SSE stream by its end. A
// session of a later token on the same server stays. With Config.Workers
// too, where OnOpen and OnClose run on workers.
func TestAuthSessionExpires(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  server.Config
	}{{"loop", server.Config{}}, {"workers", server.Config{Workers: 2}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testSessionExpires(t, tc.cfg)
		})
	}
}

func testSessionExpires(t *testing.T, cfg server.Config) {
	srv, addr := authServerWith(t, true, cfg)
	// exp has a resolution of a second: 2s ahead is 1 to 2s ahead.
	short := token(t, jwt.SigningMethodHS256, authSecret, "ann", 2*time.Second)
	long := hsToken(t, "bob")
	ws := wsClient(t, addr, url.Values{"token": {short}, "topic": {"news"}})
	stays := wsClient(t, addr, url.Values{"token": {long}, "topic": {"news"}})
	sse := openStream(t, addr, "/sse?topic=news&token="+short, "")
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != server.ReasonTokenExpired {
		t.Fatalf("WebSocket read: %v, want close 1008 %q", err, server.ReasonTokenExpired)
	}
	ws.Close()
	for {
		o, _, err := sse.read()
		if err != nil {
			break // the stream ended
		}
		if o.isPub() {
			t.Fatalf("SSE stream got %v after its token expired", o)
		}
	}
	sse.close() // the server lingers until the peer leaves
	publishRange(t, srv, "news", "m", 0, 1)
	wsExpect(t, stays, "m0")
	waitFor(t, "only one session left", func() bool { return sessions(srv) == 1 })
}
