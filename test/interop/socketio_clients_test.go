package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The official npm clients, unchanged, against the reference servers and
// against c1m (node/sio-clients.mjs): socket.io-client against the
// socket.io-protocol suite's server (examples/socketio), engine.io-client
// against the Engine.IO echo (examples/socketio -engineio-echo), and
// socket.io-client in a room (the c1m binary; the reference's -rooms
// mode), each over polling only, WebSocket only, and polling upgraded to
// WebSocket.

// sioTransports are the ways a client may connect, and the transports it
// must have used: at connect, and at the end.
var sioTransports = []struct {
	name string
	used []any
}{
	{"polling", []any{"polling", "polling"}},
	{"websocket", []any{"websocket", "websocket"}},
	{"upgrade", []any{"polling", "websocket"}},
}

// clientHeartbeat: the client tests keep the suites' servers but with a
// heartbeat that a loaded 2-core machine can keep: a client on the
// suites' 200 ms pingTimeout gave up ("ping timeout") with the load
// average at 18. A ping still comes every second of a test.
var clientHeartbeat = []string{"-ping-interval", "1s", "-ping-timeout", "5s"}

// sioTargets starts each server a client test runs against, by name.
type sioTargets map[string]func(*testing.T) sioServer

// forEachTarget runs f for each target and transport, in parallel.
func forEachTarget(t *testing.T, targets sioTargets, f func(t *testing.T, srv sioServer, transport string, used []any)) {
	for _, name := range []string{"reference", "c1m"} {
		start := targets[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := start(t)
			for _, tr := range sioTransports {
				t.Run(tr.name, func(t *testing.T) {
					t.Parallel()
					f(t, srv, tr.name, tr.used)
				})
			}
		})
	}
}

// finished reads a script's report, which must say ok; when it does not,
// the test fails with the script's stderr too (a client's own log).
func finished(c *conversation) event {
	c.t.Helper()
	r := c.expect("done")
	if r["ok"] != true {
		<-c.exited
		log := c.stderr.String()
		if len(log) > 6000 {
			log = "..." + log[len(log)-6000:]
		}
		c.t.Fatalf("the script failed: %v\nstderr (its end):\n%s", r["error"], log)
	}
	return r
}

// checkReport checks a script's report: the cases it verified, in order,
// and the transports it used.
func checkReport(t *testing.T, r event, cases []string, used []any) {
	t.Helper()
	var got []string
	for _, c := range r["cases"].([]any) {
		got = append(got, c.(string))
	}
	if !slices.Equal(got, cases) {
		t.Errorf("verified cases\n%q\nwant\n%q", got, cases)
	}
	if tr, _ := r["transports"].([]any); !slices.Equal(tr, used) {
		t.Errorf("transports %v, want %v", tr, used)
	}
	t.Logf("%v %v: %d cases over %v", r["client"], r["library"], len(got), r["transports"])
}

// TestSocketIOClients: socket.io-client against the suite's server.
func TestSocketIOClients(t *testing.T) {
	t.Parallel()
	cases := []string{"auth", "event", "binary", "ack", "binary-ack", "ordered/100", "large/500000", "namespace", "namespace-refused", "server-ack", "server-disconnect", "client-disconnect"}
	forEachTarget(t, sioTargets{
		"reference": func(t *testing.T) sioServer {
			return startReference(t, append([]string{sioSuite}, clientHeartbeat...)...)
		},
		"c1m": func(t *testing.T) sioServer {
			return startExample(t, append([]string{sioSuite}, clientHeartbeat...)...)
		},
	}, func(t *testing.T, srv sioServer, transport string, used []any) {
		c := talk(t, "node/sio-clients.mjs", "suite", srv.base, transport)
		checkReport(t, finished(c), cases, used)
	})
}

// TestEngineIOClients: engine.io-client against the Engine.IO echo.
func TestEngineIOClients(t *testing.T) {
	t.Parallel()
	cases := []string{"text", "utf8", "binary", "large/500000", "ordered/200", "close"}
	forEachTarget(t, sioTargets{
		"reference": func(t *testing.T) sioServer {
			return startReference(t, append([]string{sioEngine}, clientHeartbeat...)...)
		},
		"c1m": func(t *testing.T) sioServer {
			return startExample(t, append([]string{sioEngine}, clientHeartbeat...)...)
		},
	}, func(t *testing.T, srv sioServer, transport string, used []any) {
		c := talk(t, "node/sio-clients.mjs", "eio", srv.base, transport)
		checkReport(t, finished(c), cases, used)
	})
}

// sioPublication is publication i (from 1) of a room in these tests:
// text that is not JSON (see node/sio-publications.mjs, which must agree).
func sioPublication(i int) string {
	return fmt.Sprintf("pub #%d héllo ✓ 😀 \"q\" \\ </script> & \u2028", i)
}

// publishRoom publishes publications from..to to room through the
// server's backend API, POST /api/publish?topic=ROOM.
func publishRoom(t *testing.T, srv sioServer, room string, from, to int) {
	t.Helper()
	hc := &http.Client{Timeout: wireWait}
	for i := from; i <= to; i++ {
		resp, err := hc.Post(srv.api+"/api/publish?topic="+url.QueryEscape(room), "text/plain; charset=utf-8", strings.NewReader(sioPublication(i)))
		if err != nil {
			t.Fatalf("%s: publish %d to %s: %v", srv.name, i, room, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: publish %d to %s: %s", srv.name, i, room, resp.Status)
		}
	}
}

// roomsPlan is what node/sio-clients.mjs's rooms mode runs.
type roomsPlan struct {
	Token     string `json:"token,omitempty"`
	BadToken  string `json:"badToken,omitempty"`
	Subscribe []any  `json:"subscribe"`
	N         int    `json:"n"`
	Missed    int    `json:"missed"`
	Live      int    `json:"live"`
	// ServerSide: the server's ack and disconnect ("ask", "bye"). Not with
	// recovery on the reference: it then appends an offset to every event,
	// "answer" included.
	ServerSide bool `json:"serverSide,omitempty"`
}

// roomsConversation runs the rooms plan with socket.io-client over
// transport and plays the test's part: it publishes when the script is
// subscribed, away, and back. room is the plan's room (its topic).
func roomsConversation(t *testing.T, srv sioServer, transport, room string, p roomsPlan, used []any) {
	t.Helper()
	planJSON, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	c := talk(t, "node/sio-clients.mjs", "rooms", srv.base, transport, string(planJSON))
	want := []string{}
	if p.BadToken != "" {
		r := c.expect("refused")
		t.Logf("bad token refused: connect_error %v %v", r["message"], r["data"])
		want = append(want, "auth-refused")
	}
	if p.Token != "" {
		want = append(want, "auth-accepted")
	}
	c.expect("subscribed")
	publishRoom(t, srv, room, 1, p.N)
	c.expect("received")
	want = append(want, fmt.Sprintf("room/%d", p.N))
	if p.Missed > 0 {
		away := c.expect("away")
		t.Logf("away: disconnect reason %v", away["reason"])
		publishRoom(t, srv, room, p.N+1, p.N+p.Missed)
		c.tell("published")
		c.expect("back")
		publishRoom(t, srv, room, p.N+p.Missed+1, p.N+p.Missed+p.Live)
		want = append(want, fmt.Sprintf("recovery/%d+%d", p.Missed, p.Live))
	}
	if p.ServerSide {
		want = append(want, "server-ack", "server-disconnect")
	}
	want = append(want, "client-disconnect")
	r := finished(c)
	checkReport(t, r, want, used)
	if got, _ := r["got"].(float64); int(got) != p.N+p.Missed+p.Live {
		t.Errorf("got %v publications, want %d", r["got"], p.N+p.Missed+p.Live)
	}
}

// sioToken is the token the reference's -rooms mode accepts.
const sioToken = "reference-token"

// c1mJWTSecret signs the c1m binary's connection tokens in these tests.
const c1mJWTSecret = "socketio-interop-secret"

// c1mToken returns a connection token of the c1m binary started by
// startC1mRooms: HS256, for user sub, valid for an hour.
func c1mToken(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(c1mJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startC1mRooms runs the c1m binary as the rooms tests need it: Socket.IO
// on (its default), tokens optional (a bad one is refused), recovery from
// history, CORS open to the browsers' test pages on 127.0.0.1.
func startC1mRooms(t *testing.T) sioServer {
	t.Helper()
	return startC1mBinary(t, "-auth", "optional", "-jwt-secret", c1mJWTSecret, "-history", "1000", "-origins", "127.0.0.1:*", "-loops", "2")
}

// TestSocketIORooms: socket.io-client in a room on a server with rooms,
// over each transport: a bad token is refused (connect_error), a good one
// accepted; the room's publications from the backend API arrive in order;
// the connection drops, the publications made while it is away come after
// the client reconnects (connection state recovery), in order, none
// twice, followed by live ones. (The server's acks and disconnects are
// TestSocketIOClients's: the c1m binary's default handler has no event
// that starts them; examples/socketio has.)
func TestSocketIORooms(t *testing.T) {
	t.Parallel()
	for _, target := range []struct {
		name       string
		start      func(*testing.T) sioServer
		token      func(*testing.T) string
		serverSide bool
	}{
		{"reference", func(t *testing.T) sioServer { return startReference(t, sioRooms, "-token", sioToken) },
			func(*testing.T) string { return sioToken }, false},
		{"c1m", startC1mRooms, func(t *testing.T) string { return c1mToken(t, "alice") }, false},
	} {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			srv := target.start(t)
			for _, tr := range sioTransports {
				t.Run(tr.name, func(t *testing.T) {
					t.Parallel()
					room := "room-" + tr.name
					roomsConversation(t, srv, tr.name, room, roomsPlan{
						Token: target.token(t), BadToken: "wrong", Subscribe: []any{"subscribe", room},
						N: 200, Missed: 100, Live: 20, ServerSide: target.serverSide,
					}, tr.used)
				})
			}
		})
	}
}
