package interop

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/internal/browsertest"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

//go:embed browser/c1mjs-suite.html
var c1mjsSuitePage []byte

// c1mjsCount is how many publications a count step receives in order.
const c1mjsCount = 200

// c1mjsDrop is how many publications a drop step receives, while the
// server closes the client's session after each third of them.
const c1mjsDrop = 300

// c1mjsSmall is how many publications a fallback step receives, and a
// restart step before and after the restart.
const c1mjsSmall = 10

// c1mjsTimeout bounds one engine's run of the whole suite: a browser start
// and some twenty steps of a second or two each, on a loaded 2-core machine.
const c1mjsTimeout = 4 * time.Minute

// c1mjsStepTimeout bounds one step in the page. A restart step waits out
// c1m.js's backoff (with jitter) and a probe; on a loaded 2-core machine
// Firefox once took over 30 s for it, so the bound is generous: it only
// matters when something is wrong.
const c1mjsStepTimeout = 60 * time.Second

// c1mjsOpenTimeout is c1m.js's openTimeout in the step whose WebSocket
// never opens: short, to keep the step short.
const c1mjsOpenTimeout = 1500 * time.Millisecond

// c1mjsPace spaces a drop step's publications, so that some of them are
// published while the client is away and must come from history.
const c1mjsPace = 2 * time.Millisecond

// c1mjsStep is one check of the page's plan (browser/c1mjs-suite.html).
type c1mjsStep struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"` // count, fallback, remember, drop, restart
	URL        string   `json:"url"`
	Transports []string `json:"transports,omitempty"`
	JSONP      bool     `json:"jsonp,omitempty"`
	Topic      string   `json:"topic"`
	N          int      `json:"n"`
	Timeout    int      `json:"timeout"` // ms
	Options    any      `json:"options,omitempty"`

	server *c1mjsServer // where the step publishes
	want   string       // the transport the step must end on
}

// c1mjsVerdict is a step as the page reports it.
type c1mjsVerdict struct {
	Name      string            `json:"name"`
	OK        bool              `json:"ok"`
	Got       int               `json:"got"`
	Transport string            `json:"transport"`
	States    []string          `json:"states"`
	Resets    []json.RawMessage `json:"resets"`
	Detail    string            `json:"detail"`
	LastError string            `json:"lastError"`
}

// c1mjsServer is a c1m server of the suite, which a step may restart.
// Safe for concurrent use.
type c1mjsServer struct {
	t   *testing.T
	cfg server.Config
	fwd *forwarder // with restarts: the one address clients know
	mu  sync.Mutex // guards the fields below
	srv *server.Server
	// topics are those of the steps on this server, primed on every start
	// (see prime).
	topics []string
}

// startC1mJS starts a c1m server on 127.0.0.1 with history, the envelope
// subprotocol, client publishing, and cfg's transports, pages and origins.
// With forwarded, clients reach it through a forwarder (which keeps its
// address when the server restarts), which swallows the answers to the
// requests whose first line starts with swallow, when set.
func startC1mJS(t *testing.T, cfg server.Config, forwarded bool, swallow string) *c1mjsServer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 1
	cfg.Protocols = []string{codec.EnvelopeProtocol}
	cfg.History = session.HistoryConfig{Size: 1000, TTL: 5 * time.Minute}
	cfg.DrainTimeout, cfg.DrainSpread = 2*time.Second, -1
	s := &c1mjsServer{t: t, cfg: cfg}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	if forwarded {
		s.fwd = startForwarder(t, s.current().Addr().String(), swallow)
	}
	return s
}

func (s *c1mjsServer) start() error {
	srv := server.New(server.NewPush(&server.PushConfig{ClientPublish: true}), &s.cfg)
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start c1m: %w", err)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

func (s *c1mjsServer) current() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

func (s *c1mjsServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.current().Shutdown(ctx)
}

// url is the server's base URL, for clients.
func (s *c1mjsServer) url() string {
	if s.fwd != nil {
		return "http://" + s.fwd.addr()
	}
	return "http://" + s.current().Addr().String()
}

// publish publishes prefix1..prefixN to topic, pacing them by pace, and
// calls between(i) before publication i.
func (s *c1mjsServer) publish(topic, prefix string, n int, pace time.Duration, between func(i int)) error {
	for i := 1; i <= n; i++ {
		if between != nil {
			between(i)
		}
		if _, err := s.current().Hub().Publish(topic, []byte(fmt.Sprint(prefix, i))); err != nil {
			return fmt.Errorf("publish %s%d to %s: %w", prefix, i, topic, err)
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	return nil
}

// dropAll closes every open session of the server, as a server that drops
// its clients would, without losing its history. session.Session.Close is
// safe from any goroutine; Each runs on the session's loop.
func (s *c1mjsServer) dropAll() {
	for _, sh := range shardsOf(s.current()) {
		_ = sh.Post(func() {
			sh.Each(func(ss *session.Session) bool {
				_ = ss.Close(codec.StatusGoingAway, "dropped by the test")
				return true
			})
		})
	}
}

// restart stops the server and starts a new one: new epochs, no history.
// Clients find it at the same address, the forwarder's. (The new server
// cannot listen on the old one's address: server.Server does not set
// SO_REUSEADDR, so the port stays taken while connections that the old
// server closed sit in TIME_WAIT, a minute.)
func (s *c1mjsServer) restart() error {
	s.stop()
	if err := s.start(); err != nil {
		return err
	}
	s.fwd.retarget(s.current().Addr().String())
	return s.prime()
}

// prime publishes one publication to each of the server's topics, before
// any client subscribes. A topic that keeps history but has none yet is
// forgotten as soon as its last subscriber leaves, and a poll client
// leaves between two polls: its next poll would find a new epoch and get a
// reset, every time (a server bug, reported), and lose what was published
// meanwhile.
func (s *c1mjsServer) prime() error {
	s.mu.Lock()
	srv, topics := s.srv, s.topics
	s.mu.Unlock()
	for _, topic := range topics {
		if _, err := srv.Hub().Publish(topic, []byte("prime")); err != nil {
			return err
		}
	}
	return nil
}

// TestC1mJS loads browser/c1mjs-suite.html in every browser engine. The
// page, served by a c1m server with every transport (and JSONP) along with
// c1m.js, runs these steps with c1m.js, each on a client of its own:
//   - count: on each transport forced by options.transports, c1mjsCount
//     publications arrive in order, none lost;
//   - fallback: from a server that refuses WebSocket (404), the client
//     settles on SSE by itself; from one that offers only polling, on
//     polling; a new client of the first server starts from SSE, which
//     the first one remembered (sessionStorage); behind a proxy that never
//     answers the WebSocket upgrade, the client gives up on WebSocket after
//     its openTimeout and settles on SSE;
//   - drop: on each transport, the server closes the client's session
//     twice while publications continue; the client resumes from its last
//     position and gets all c1mjsDrop in order;
//   - restart: on each transport, the server restarts without its history;
//     the client gets the reset and then the new publications.
//
// The fallback and resume servers are other origins, which c1m.js reaches
// with CORS (and WebSocket's Origin check). Each engine gets servers of its
// own, since the drop and restart steps disturb every client of theirs.
func TestC1mJS(t *testing.T) {
	t.Parallel()
	for _, e := range browsertest.All() {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			browsertest.Require(t, e)
			runC1mJSSuite(t, e)
		})
	}
}

func runC1mJSSuite(t *testing.T, e browsertest.Engine) {
	others := []string{"127.0.0.1:*"} // the page's origin, whatever its port
	noWS := startC1mJS(t, server.Config{AllowedOrigins: others, Transports: []string{server.TransportSSE, server.TransportStream, server.TransportPoll}}, false, "")
	pollOnly := startC1mJS(t, server.Config{AllowedOrigins: others, Transports: []string{server.TransportPoll}}, false, "")
	// A proxy that lets the WebSocket upgrade through and never answers.
	wsSwallowed := startC1mJS(t, server.Config{AllowedOrigins: others}, true, "GET /ws")
	drop := startC1mJS(t, server.Config{AllowedOrigins: others}, false, "")
	restart := startC1mJS(t, server.Config{AllowedOrigins: others}, true, "")

	// The home server's pages: the suite, its plan, and a signal per step.
	signals := make(chan string, 64)
	pages := map[string]server.Page{"/": {ContentType: "text/html; charset=utf-8", Body: c1mjsSuitePage}}
	var steps []*c1mjsStep
	add := func(st *c1mjsStep) {
		st.Topic, st.Timeout = st.Name, int(c1mjsStepTimeout/time.Millisecond)
		steps = append(steps, st)
		for _, suffix := range []string{"", ".restart", ".after"} {
			name := st.Name + suffix
			pages["/go/"+name] = server.Page{ContentType: "text/plain", Render: func() []byte {
				select { // on the event loop: never block
				case signals <- name:
				default:
				}
				return []byte("ok\n")
			}}
		}
	}
	for _, tr := range []string{"websocket", "sse", "stream", "poll", "jsonp"} {
		add(&c1mjsStep{Name: "count-" + tr, Kind: "count", Transports: []string{tr}, JSONP: tr == "jsonp", N: c1mjsCount, want: tr})
	}
	add(&c1mjsStep{Name: "fallback-sse", Kind: "fallback", URL: noWS.url(), N: c1mjsSmall, server: noWS, want: "sse"})
	add(&c1mjsStep{Name: "fallback-poll", Kind: "fallback", URL: pollOnly.url(), N: c1mjsSmall, server: pollOnly, want: "poll"})
	add(&c1mjsStep{Name: "remember-sse", Kind: "remember", URL: noWS.url(), N: c1mjsSmall, server: noWS, want: "sse"})
	add(&c1mjsStep{Name: "timeout-sse", Kind: "fallback", URL: wsSwallowed.url(), N: c1mjsSmall, server: wsSwallowed, want: "sse",
		Options: map[string]any{"openTimeout": c1mjsOpenTimeout.Milliseconds()}})
	for _, tr := range []string{"websocket", "sse", "stream", "poll"} {
		add(&c1mjsStep{Name: "drop-" + tr, Kind: "drop", URL: drop.url(), Transports: []string{tr}, N: c1mjsDrop, server: drop, want: tr})
	}
	for _, tr := range []string{"websocket", "sse", "stream", "poll"} {
		add(&c1mjsStep{Name: "restart-" + tr, Kind: "restart", URL: restart.url(), Transports: []string{tr}, N: c1mjsSmall, server: restart, want: tr})
	}
	plan, err := json.Marshal(map[string]any{"steps": steps})
	if err != nil {
		t.Fatal(err)
	}
	pages["/plan"] = server.Page{ContentType: "application/json", Body: plan}
	home := startC1mJS(t, server.Config{JSONP: true, Pages: pages}, false, "")
	for _, st := range steps {
		if st.server == nil {
			st.server = home // count steps: the page's own origin (URL "")
		}
		st.server.topics = append(st.server.topics, st.Topic)
	}
	for _, s := range []*c1mjsServer{home, noWS, pollOnly, wsSwallowed, drop, restart} {
		if err := s.prime(); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), c1mjsTimeout)
	defer cancel()
	conducted := make(chan struct{})
	go func() {
		defer close(conducted)
		conduct(ctx, t, steps, signals)
	}()
	start := time.Now()
	raw, err := browsertest.Run(ctx, t, e, home.url()+"/")
	cancel()
	<-conducted
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("suite ran in %v", time.Since(start).Round(time.Millisecond))
	var got struct {
		OK        bool           `json:"ok"`
		Steps     []c1mjsVerdict `json:"steps"`
		Detail    string         `json:"detail"`
		UserAgent string         `json:"userAgent"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("verdict %s: %v", raw, err)
	}
	if len(got.Steps) != len(steps) {
		t.Errorf("%d of %d steps ran: %s", len(got.Steps), len(steps), got.Detail)
	}
	for i, v := range got.Steps {
		checkC1mJSStep(t, steps[i], v)
	}
}

// conduct publishes, drops and restarts as the page's steps ask, until ctx
// ends.
func conduct(ctx context.Context, t *testing.T, steps []*c1mjsStep, signals <-chan string) {
	for {
		var sig string
		select {
		case <-ctx.Done():
			return
		case sig = <-signals:
		}
		name, phase, _ := strings.Cut(sig, ".")
		i := slices.IndexFunc(steps, func(st *c1mjsStep) bool { return st.Name == name })
		st := steps[i]
		srv := st.server
		var err error
		switch {
		case phase == "restart":
			err = srv.restart()
		case phase == "after":
			err = srv.publish(st.Topic, "a", st.N, 0, nil)
		case st.Kind == "drop":
			err = srv.publish(st.Topic, "m", st.N, c1mjsPace, func(i int) {
				if i%(st.N/3) == 0 {
					srv.dropAll()
				}
			})
		default:
			err = srv.publish(st.Topic, "m", st.N, 0, nil)
		}
		if err != nil {
			t.Errorf("%s: %v", sig, err)
		}
	}
}

// checkC1mJSStep judges one step's verdict.
func checkC1mJSStep(t *testing.T, st *c1mjsStep, v c1mjsVerdict) {
	t.Helper()
	want := st.N
	if st.Kind == "restart" {
		want = 2 * st.N
	}
	switch {
	case v.Name != st.Name:
		t.Errorf("step %s reported as %s", st.Name, v.Name)
	case !v.OK || v.Got != want:
		t.Errorf("%s: %d of %d in order on %s: %s (states %v, last error %q)", st.Name, v.Got, want, v.Transport, v.Detail, v.States, v.LastError)
	case v.Transport != st.want:
		t.Errorf("%s: ended on %s, want %s (states %v)", st.Name, v.Transport, st.want, v.States)
	case st.Kind == "remember" && (len(v.States) == 0 || v.States[0] != "connecting:"+st.want):
		t.Errorf("%s: did not start from %s (states %v)", st.Name, st.want, v.States)
	case st.Kind == "restart" && len(v.Resets) == 0:
		t.Errorf("%s: no reset after the restart (states %v)", st.Name, v.States)
	case st.Kind == "drop" && st.want != "poll" && !slices.ContainsFunc(v.States, func(s string) bool { return strings.HasPrefix(s, "reconnecting") }):
		// A held poll that the server closes is answered: the client
		// just polls again, it has no connection to lose.
		t.Errorf("%s: the client never reconnected (states %v)", st.Name, v.States)
	default:
		t.Logf("%s: %d in order on %s; states %v; resets %d", st.Name, v.Got, v.Transport, v.States, len(v.Resets))
	}
}

// TestC1mJSServed checks that the server serves c1m.js at /c1m.js as
// JavaScript, and that an embedder's own page at that path wins.
func TestC1mJSServed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		pages map[string]server.Page
		want  string
	}{
		{"default", nil, codec.EnvelopeProtocol},
		{"embedder's own", map[string]server.Page{"/c1m.js": {ContentType: "application/javascript", Body: []byte("mine")}}, "mine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startC1mJS(t, server.Config{Pages: tc.pages}, false, "")
			resp, err := http.Get(s.url() + "/c1m.js")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/javascript") || !strings.Contains(string(body), tc.want) {
				t.Fatalf("GET /c1m.js: %d %q, body without %q", resp.StatusCode, ct, tc.want)
			}
		})
	}
}

// forwarder is a TCP forwarder to a server whose address may change: what
// a client of a restarted server sees through a load balancer. A connection
// that arrives while the server is down is closed at once. It may also
// play a proxy that never passes some answers on (swallow). Safe for
// concurrent use.
type forwarder struct {
	ln      net.Listener
	swallow string     // a request line prefix whose answer never comes
	mu      sync.Mutex // guards the fields below
	target  string
	conns   map[net.Conn]struct{} // both ends of every pipe
}

// startForwarder forwards a listener on 127.0.0.1 to target until the
// test ends.
func startForwarder(t *testing.T, target, swallow string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, swallow: swallow, target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.pipe(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			_ = c.Close()
		}
		f.conns = nil
		f.mu.Unlock()
		wg.Wait()
	})
	return f
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) retarget(target string) {
	f.mu.Lock()
	f.target = target
	f.mu.Unlock()
}

// pipe copies between client c and the server in both directions, passing
// on each side's end of stream, until both have ended. When the client's
// first request is one to swallow, nothing comes back.
func (f *forwarder) pipe(c net.Conn) {
	defer f.forget(c)
	f.mu.Lock()
	target := f.target
	f.mu.Unlock()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer f.forget(s)
	if !f.track(c, s) {
		return
	}
	in := bufio.NewReader(c)
	// The request line comes in the first segment; that is enough here.
	_, _ = in.Peek(1)
	head, _ := in.Peek(in.Buffered())
	out := io.Writer(c)
	if f.swallow != "" && strings.HasPrefix(string(head), f.swallow) {
		out = io.Discard
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(s, in)
		_ = s.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(out, s)
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}

// track records a pipe's connections, unless the forwarder is closing.
func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

// forget closes c and drops it from the record.
func (f *forwarder) forget(c net.Conn) {
	_ = c.Close()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}
