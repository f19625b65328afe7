package server_test

import (
	"errors"
	"fmt"
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

// refreshServer is authServer with its Push, whose expiry timers are held
// back by delay.
func refreshServer(t *testing.T, required bool, delay time.Duration) (*server.Server, *server.Push, string) {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{authSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	push := server.NewPush(&server.PushConfig{Tokens: v, TokenRequired: required, ClientPublish: true})
	server.SetExpiryDelay(push, delay)
	srv, addr := start(t, push, server.Config{PollTimeout: 20 * time.Millisecond, History: keepHistory(100)})
	return srv, push, addr
}

// shortToken returns a token for sub that expires in 1 to 2 seconds (exp
// has a resolution of a second), and when.
func shortToken(t *testing.T, sub string, extra ...any) (string, time.Time) {
	t.Helper()
	tok := token(t, jwt.SigningMethodHS256, authSecret, sub, 2*time.Second, extra...)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatal(err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp.Time
}

// waitPast waits until the wall clock is past at: the tests below need a
// token's exp behind them, whose resolution is a second.
func waitPast(at time.Time) { time.Sleep(time.Until(at) + 300*time.Millisecond) }

// expectClose expects c's next read to be its close, with code and reason.
func expectClose(t *testing.T, c *websocket.Conn, code int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wstest.Timeout))
	_, p, err := c.ReadMessage()
	if err == nil {
		t.Fatalf("got %q, want close %d %q", p, code, reason)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
		t.Fatalf("read: %v, want close %d %q", err, code, reason)
	}
}

func errorReply(id int, reason string) string {
	return fmt.Sprintf(`{"op":"error","id":%d,"error":%q}`, id, reason)
}

// TestRefreshWebSocket: the refresh command over a WebSocket.
func TestRefreshWebSocket(t *testing.T) {
	t.Parallel()
	t.Run("before expiry, it moves the expiry", func(t *testing.T) {
		t.Parallel()
		srv, push, addr := refreshServer(t, true, 0)
		short, exp := shortToken(t, "ann")
		c := wsClient(t, addr, url.Values{"token": {short}, "topic": {"news"}})
		wsExchange(t, c, `{"op":"refresh","token":"`+hsToken(t, "ann")+`","id":1}`, `{"op":"ok","id":1}`)
		waitPast(exp)
		publishRange(t, srv, "news", "m", 0, 1)
		wsExpect(t, c, "m0")
		if n := push.Denials(server.DenyExpiredSession); n != 0 {
			t.Fatalf("%d sessions expired", n)
		}
	})
	t.Run("refused, the old expiry stands", func(t *testing.T) {
		t.Parallel()
		srv, push, addr := refreshServer(t, true, 0)
		short, _ := shortToken(t, "ann")
		c := wsClient(t, addr, url.Values{"token": {short}, "topic": {"news"}})
		for i, tc := range []struct{ token, reason string }{
			{token(t, jwt.SigningMethodHS256, authSecret, "ann", -time.Minute), server.ReasonTokenExpired},
			{hsToken(t, "bob"), server.ReasonOtherUser},
			{token(t, jwt.SigningMethodHS256, []byte("not-the-secret-0123456789abcdef"), "ann", time.Hour), server.ReasonTokenInvalid},
			{token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ann", time.Hour), server.ReasonTokenInvalid},
			{token(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "ann", time.Hour), server.ReasonTokenInvalid},
		} {
			wsExchange(t, c, fmt.Sprintf(`{"op":"refresh","token":%q,"id":%d}`, tc.token, i), errorReply(i, tc.reason))
		}
		expectClose(t, c, websocket.ClosePolicyViolation, server.ReasonTokenExpired)
		publishRange(t, srv, "news", "m", 0, 1) // reaches nobody
		if n := push.Denials(server.DenyExpiredSession); n != 1 {
			t.Fatalf("%d sessions expired, want 1", n)
		}
	})
	t.Run("after expiry, refused and closed", func(t *testing.T) {
		t.Parallel()
		// The expiry timer is held back: the refresh arrives after exp
		// and before the timer, and must not revive the session.
		_, push, addr := refreshServer(t, true, time.Hour)
		short, exp := shortToken(t, "ann")
		c := wsClient(t, addr, url.Values{"token": {short}, "topic": {"news"}})
		waitPast(exp)
		wsExchange(t, c, `{"op":"refresh","token":"`+hsToken(t, "ann")+`","id":1}`, errorReply(1, server.ReasonTokenExpired))
		expectClose(t, c, websocket.ClosePolicyViolation, server.ReasonTokenExpired)
		if n := push.Denials(server.DenyRefreshExpired); n != 1 {
			t.Fatalf("%d late refreshes counted, want 1", n)
		}
	})
	t.Run("anonymous session", func(t *testing.T) {
		t.Parallel()
		_, _, addr := refreshServer(t, false, 0)
		c := wsClient(t, addr, url.Values{"topic": {"news"}})
		wsExchange(t, c, `{"op":"refresh","token":"`+hsToken(t, "ann")+`","id":1}`, errorReply(1, server.ReasonNoSessionToken))
	})
	t.Run("narrower claims unsubscribe", func(t *testing.T) {
		t.Parallel()
		srv, _, addr := refreshServer(t, true, 0)
		c := wsClient(t, addr, url.Values{"token": {hsToken(t, "ann", "topics", []string{"news", "sports"})}, "topic": {"news", "sports"}})
		wsExchange(t, c, `{"op":"refresh","token":"`+hsToken(t, "ann", "topics", []string{"news"})+`","id":1}`, `{"op":"ok","id":1}`)
		publishRange(t, srv, "sports", "secret", 0, 1)
		publishRange(t, srv, "news", "m", 0, 1)
		wsExpect(t, c, "m0")
	})
}

// TestRefreshOverSend: a stream's refresh goes through /send, on every
// streaming transport; after its token expired the stream is gone (404)
// or, before the timer, the refresh is refused on the stream, which ends
// with no publication after the expiry.
func TestRefreshOverSend(t *testing.T) {
	t.Parallel()
	post := func(t *testing.T, addr, query, cmd string) int {
		resp, err := httpClient.Post("http://"+addr+"/send?"+query, "application/json", strings.NewReader(cmd))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, kind := range streamPaths {
		t.Run(kind.name+"/before expiry", func(t *testing.T) {
			t.Parallel()
			srv, push, addr := refreshServer(t, true, 0)
			short, exp := shortToken(t, "ann")
			long := hsToken(t, "ann")
			s := openStream(t, addr, kind.path+"topic=news&token="+short, "")
			s.expectStart("news", false)
			if st := post(t, addr, "sid="+s.sid+"&token="+long, `{"op":"refresh","token":"`+long+`","id":1}`); st != http.StatusAccepted {
				t.Fatalf("/send: %d", st)
			}
			s.expectReply(`{"op":"ok","id":1}`)
			waitPast(exp)
			publishRange(t, srv, "news", "m", 0, 1)
			s.expectPubs("news", "m", 0, 1, 1)
			if n := push.Denials(server.DenyExpiredSession); n != 0 {
				t.Fatalf("%d sessions expired", n)
			}
		})
		t.Run(kind.name+"/after expiry", func(t *testing.T) {
			t.Parallel()
			srv, _, addr := refreshServer(t, true, time.Hour)
			short, exp := shortToken(t, "ann")
			long := hsToken(t, "ann")
			s := openStream(t, addr, kind.path+"topic=news&token="+short, "")
			s.expectStart("news", false)
			waitPast(exp)
			if st := post(t, addr, "sid="+s.sid+"&token="+long, `{"op":"refresh","token":"`+long+`","id":1}`); st != http.StatusAccepted {
				t.Fatalf("/send: %d", st)
			}
			s.expectReply(errorReply(1, server.ReasonTokenExpired))
			publishRange(t, srv, "news", "secret", 0, 1)
			for {
				o, _, err := s.read()
				if err != nil {
					break // the stream ended
				}
				if o.isPub() {
					t.Fatalf("got %v after the token expired", o)
				}
			}
			if st := post(t, addr, "sid="+s.sid+"&token="+long, `{"op":"refresh","token":"`+long+`","id":2}`); st != http.StatusNotFound {
				t.Fatalf("/send to the ended stream: %d, want 404", st)
			}
		})
	}
}

// TestRefreshPoll: a poll presents its token on every request, so its
// refresh is the next poll's token: after the old one's exp, a poll with
// it is refused with 401 and carries nothing, and one with the new token
// gets what was published meanwhile.
func TestRefreshPoll(t *testing.T) {
	t.Parallel()
	srv, _, addr := refreshServer(t, true, 0)
	short, exp := shortToken(t, "ann")
	publishRange(t, srv, "news", "prime", 0, 1) // a topic with history keeps its numbering from its first publication
	first := poll(t, addr, url.Values{"token": {short}, "topic": {"news"}, "wait": {"0"}})
	waitPast(exp)
	publishRange(t, srv, "news", "m", 0, 1)
	status, body := get(t, "http://"+addr+"/poll?"+url.Values{"token": {short}, "cursor": {first.Cursor}, "wait": {"0"}}.Encode())
	if status != http.StatusUnauthorized || !strings.Contains(body, server.ReasonTokenExpired) || strings.Contains(body, "m0") {
		t.Fatalf("poll with the expired token: %d %q", status, body)
	}
	next := poll(t, addr, url.Values{"token": {hsToken(t, "ann")}, "cursor": {first.Cursor}, "wait": {"0"}})
	if objs := next.objects(t); len(objs) != 1 || string(objs[0].payload()) != "m0" {
		t.Fatalf("poll with the new token: %v", objs)
	}
}

// TestSubscribeToken: a token in the subscribe command grants a topic the
// session's own claims do not, when its sub is the session's user; a
// refresh keeps the topic.
func TestSubscribeToken(t *testing.T) {
	t.Parallel()
	srv, _, addr := refreshServer(t, false, 0)
	grant := hsToken(t, "ann", "topics", []string{"private:ann-room"})
	c := wsClient(t, addr, url.Values{"token": {hsToken(t, "ann")}})
	anon := wsClient(t, addr, url.Values{})
	for i, tc := range []struct {
		c            *websocket.Conn
		topic, token string
		reason       string // "": ok
	}{
		{c, "private:ann-room", "", server.ReasonTopicDenied},
		{c, "private:ann-room", hsToken(t, "bob", "topics", []string{"private:ann-room"}), server.ReasonOtherUser},
		{c, "private:ann-room", hsToken(t, "ann", "topics", []string{"private:other"}), server.ReasonTopicDenied},
		{c, "private:ann-room", token(t, jwt.SigningMethodHS256, authSecret, "ann", -time.Minute, "topics", []string{"private:ann-room"}), server.ReasonTokenExpired},
		{c, "private:ann-room", token(t, jwt.SigningMethodHS256, []byte("not-the-secret-0123456789abcdef"), "ann", time.Hour, "topics", []string{"private:ann-room"}), server.ReasonTokenInvalid},
		{anon, "private:ann-room", grant, server.ReasonOtherUser},
		{c, "private:ann-room", grant, ""},
	} {
		want := `{"op":"ok","id":` + fmt.Sprint(i) + `}`
		if tc.reason != "" {
			want = errorReply(i, tc.reason)
		}
		tokenField := ""
		if tc.token != "" {
			tokenField = fmt.Sprintf(`,"token":%q`, tc.token)
		}
		wsExchange(t, tc.c, fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":%d%s}`, tc.topic, i, tokenField), want)
	}
	wsExchange(t, c, `{"op":"refresh","token":"`+hsToken(t, "ann")+`","id":99}`, `{"op":"ok","id":99}`)
	publishRange(t, srv, "private:ann-room", "m", 0, 1)
	wsExpect(t, c, "m0")
	wsExchange(t, anon, `{"op":"subscribe","topic":"open","id":1}`, `{"op":"ok","id":1}`)
	publishRange(t, srv, "open", "o", 0, 1)
	wsExpect(t, anon, "o0") // and not m0 before it
}

// TestWWWAuthenticate: 401 and 403 answers carry RFC 6750's challenge on
// every transport: no error code without a token, invalid_token for a bad
// one, insufficient_scope for a topic outside the claims.
func TestWWWAuthenticate(t *testing.T) {
	t.Parallel()
	_, _, addr := refreshServer(t, true, 0)
	expired := token(t, jwt.SigningMethodHS256, authSecret, "ann", -time.Minute)
	for _, tc := range []struct {
		name, query string
		status      int
		challenge   string
	}{
		{"no token", "topic=news", 401, `Bearer`},
		{"expired", "topic=news&token=" + expired, 401, `Bearer error="invalid_token", error_description="token expired"`},
		{"bad signature", "topic=news&token=" + token(t, jwt.SigningMethodHS256, []byte("not-the-secret-0123456789abcdef"), "ann", time.Hour), 401,
			`Bearer error="invalid_token", error_description="invalid token"`},
		{"topic outside the claims", "topic=private:x&token=" + hsToken(t, "ann"), 403, `Bearer error="insufficient_scope", error_description="topic not allowed"`},
	} {
		for _, transport := range []string{"websocket", "sse", "stream", "poll", "send"} {
			if transport == "send" && tc.status == 403 {
				continue // /send without a stream takes no topic
			}
			var resp *http.Response
			var err error
			switch transport {
			case "websocket":
				var c *websocket.Conn
				c, resp, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ws?"+tc.query, nil)
				if err == nil {
					c.Close()
					t.Fatalf("%s %s: upgraded", transport, tc.name)
				}
			case "send":
				resp, err = httpClient.Post("http://"+addr+"/send?"+tc.query, "application/json", strings.NewReader(`{"op":"publish","topic":"pub","data":1}`))
			default:
				resp, err = httpClient.Get("http://" + addr + "/" + transport + "?" + tc.query)
			}
			if resp == nil {
				t.Fatalf("%s %s: %v", transport, tc.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("%s %s: %d %q, want %d %q", transport, tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
		}
	}
}

// TestSubscribeTokenOverSend: a stream's subscribe command through /send
// with a subscription token, on every streaming transport: another
// user's token is refused on the stream, and nothing of the topic
// arrives before the grant; the session's own user's grants it.
func TestSubscribeTokenOverSend(t *testing.T) {
	t.Parallel()
	srv, _, addr := refreshServer(t, true, 0)
	ann := hsToken(t, "ann")
	for _, kind := range streamPaths {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			topic := "private:room-" + kind.name
			s := openStream(t, addr, kind.path+"token="+ann, "")
			send := func(id int, token string) {
				cmd := fmt.Sprintf(`{"op":"subscribe","topic":%q,"id":%d,"token":%q}`, topic, id, token)
				resp, err := httpClient.Post("http://"+addr+"/send?sid="+s.sid+"&token="+ann, "application/json", strings.NewReader(cmd))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("/send: %d", resp.StatusCode)
				}
			}
			send(1, hsToken(t, "bob", "topics", []string{topic}))
			s.expectReply(errorReply(1, server.ReasonOtherUser))
			publishRange(t, srv, topic, "secret", 0, 1) // the stream may not have it
			send(2, hsToken(t, "ann", "topics", []string{topic}))
			s.expectStart(topic, false)
			s.expectReply(`{"op":"ok","id":2}`)
			publishRange(t, srv, topic, "m", 0, 1)
			if o := s.must(); !o.isPub() || string(o.payload()) != "m0" {
				t.Fatalf("got %v, want m0", o)
			}
		})
	}
}

// TestSubscribeTokenExpires: a topic a subscription token granted ends
// with that token's exp: the session is told and gets nothing of the
// topic after; a subscribe with a newer token before the exp moves the
// end, and the session's own long-lived token does not extend a grant.
func TestSubscribeTokenExpires(t *testing.T) {
	t.Parallel()
	srv, push, addr := refreshServer(t, false, 0)
	c := wsClient(t, addr, url.Values{"token": {hsToken(t, "ann")}})
	short, exp := shortToken(t, "ann", "topics", []string{"private:a", "private:b"})
	wsExchange(t, c, `{"op":"subscribe","topic":"private:a","id":1,"token":"`+short+`"}`, `{"op":"ok","id":1}`)
	wsExchange(t, c, `{"op":"subscribe","topic":"private:b","id":2,"token":"`+short+`"}`, `{"op":"ok","id":2}`)
	// private:b's grant moves to a token of an hour.
	long := hsToken(t, "ann", "topics", []string{"private:b"})
	wsExchange(t, c, `{"op":"subscribe","topic":"private:b","id":3,"token":"`+long+`"}`, `{"op":"ok","id":3}`)
	publishRange(t, srv, "private:a", "a", 0, 1)
	wsExpect(t, c, "a0")
	waitPast(exp)
	wsExpect(t, c, `{"op":"unsubscribed","topic":"private:a","error":"token expired"}`)
	publishRange(t, srv, "private:a", "a", 1, 2)
	publishRange(t, srv, "private:b", "b", 0, 1)
	wsExpect(t, c, "b0") // and not a1 before it
	if n := push.Denials(server.DenyGrantExpired); n != 1 {
		t.Fatalf("subscription_expired denials: %d, want 1", n)
	}
	// The grant is gone: subscribing again needs a token again.
	wsExchange(t, c, `{"op":"subscribe","topic":"private:a","id":4}`, errorReply(4, server.ReasonTopicDenied))
}
