package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
	"github.com/c1mhq/c1m/socketio"
)

// The proxy configurations of deploy/ (nginx/c1m.conf, haproxy/c1m.cfg),
// each run as it is (only the node address, the port and the certificate
// paths replaced) in front of a push server in this process: wss://, SSE
// over https, long-polling and /send through it, each checked to deliver,
// and the client's address as the server's handler sees it.

const (
	// proxyStart bounds how long a proxy may take to listen.
	proxyStart = 10 * time.Second
	// proxyStop bounds how long a proxy may take to exit after SIGTERM;
	// then it gets SIGKILL.
	proxyStop = 5 * time.Second
	// flowTimeout bounds each flow through the proxy.
	flowTimeout = 15 * time.Second
	// quietPoll is the server's poll timeout: how long a poll that
	// nothing wakes is held, through the proxy.
	quietPoll = time.Second
	// serverShutdown bounds the push server's shutdown in cleanup.
	serverShutdown = 5 * time.Second
	// proxyClient is the loopback address the client-address checks dial
	// the proxy from: the proxy reaches c1m from 127.0.0.1, and nothing
	// else here uses it.
	proxyClient = "127.0.0.5"
)

// proxy is one or more push servers (the nodes) and, once started, a
// proxy in front of them.
type proxy struct {
	name     string // "nginx", "haproxy"
	nodes    []*server.Server
	srv      *server.Server // nodes[0]
	dir      string         // the test's temporary directory
	certFile string         // PEM certificate for 127.0.0.1
	keyFile  string         // its PEM key
	port     string         // 127.0.0.1:PORT the proxy listens on
	base     string         // https://127.0.0.1:PORT
	tls      *tls.Config    // trusts the test's certificate
	connects chan connect
}

// connect is a request as the push server's handler saw it.
type connect struct {
	node                int // index in proxy.nodes
	path, topic, remote string
}

// findProxy returns the path of the proxy binary name. Without it the test
// is skipped, but not under CI=true, where scripts/test-deps.sh installs
// it.
func findProxy(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	// /usr/sbin is not on every user's PATH.
	if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
		return "/usr/sbin/" + name
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found, under CI=true: `make test-deps` (scripts/test-deps.sh) installs it", name)
	}
	t.Skipf("%s not found (neither on PATH nor in /usr/sbin): `make test-deps` installs it", name)
	return ""
}

// newProxy starts nodes push servers on free loopback ports for the
// test's lifetime, each trusting 127.0.0.1 as its proxy, and makes a
// certificate for the proxy; run starts the proxy itself.
func newProxy(t *testing.T, name string, nodes int) *proxy {
	t.Helper()
	return newProxyWith(t, name, nodes, nil)
}

// newProxyWith is newProxy with tune applied to each node's configuration.
func newProxyWith(t *testing.T, name string, nodes int, tune func(*server.Config)) *proxy {
	t.Helper()
	p := &proxy{name: name, connects: make(chan connect, 256)}
	for i := range nodes {
		p.nodes = append(p.nodes, startNode(t, i, p.connects, tune))
	}
	p.srv = p.nodes[0]
	p.dir = t.TempDir()
	var pool *x509.CertPool
	p.certFile, p.keyFile, pool = selfSigned(t, p.dir)
	p.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	p.port = freePort(t)
	p.base = "https://" + p.port
	return p
}

// startNode starts push server number node, which reports each request
// its handler sees on connects.
func startNode(t *testing.T, node int, connects chan<- connect, tune func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		Addr:           "127.0.0.1:0",
		Loops:          2,
		History:        session.HistoryConfig{Size: 100},
		Protocols:      []string{codec.EnvelopeProtocol},
		PollTimeout:    quietPoll,
		DrainSpread:    -1,
		DrainTimeout:   serverShutdown / 2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
	// Socket.IO as the binary serves it, for the Engine.IO flows.
	sio := socketio.New(nil)
	socketio.ServePush(sio.Of("/"), nil)
	cfg.Engine = sio.EngineConfig(nil)
	if tune != nil {
		tune(&cfg)
	}
	h := server.NewPush(&server.PushConfig{
		ClientPublish: true,
		Auth: func(r *server.Request) error {
			select {
			case connects <- connect{node, r.Path(), r.Query().Get("topic"), r.RemoteAddr().String()}:
			default:
			}
			return nil
		},
	})
	srv := server.New(h, &cfg)
	sio.Attach(srv.Hub())
	if err := srv.Start(); err != nil {
		t.Fatalf("start node %d: %v", node, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), serverShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("shutdown node %d: %v", node, err)
		}
	})
	return srv
}

// config reads deploy/file and makes each replacement, which must apply.
func (p *proxy) config(t *testing.T, file string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(conf, replace[i]) {
			t.Fatalf("%s has no %q to replace", file, replace[i])
		}
		conf = strings.ReplaceAll(conf, replace[i], replace[i+1])
	}
	return conf
}

// run starts the proxy's command in its own process group, ended (with
// anything it started) in cleanup, and waits until it listens. On failure
// the test log shows its output and the files in logs.
func (p *proxy) run(t *testing.T, cmd *exec.Cmd, logs ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	dump := func() string {
		s := p.name + " output:\n" + out.String()
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			s += "\n" + filepath.Base(l) + ":\n" + string(b)
		}
		return s
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(proxyStop):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Errorf("%s did not stop within %v of SIGTERM", p.name, proxyStop)
		}
		if t.Failed() {
			t.Log(dump())
		}
	})
	deadline := time.Now().Add(proxyStart)
	for {
		c, err := net.DialTimeout("tcp", p.port, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", p.name, dump())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %v", p.name, p.port, proxyStart)
		}
	}
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and its key, in dir; it returns their paths and a pool that
// trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "c1m deploy test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// client returns an https client that trusts the proxy's certificate and
// connects from the loopback address from (empty: any).
func (p *proxy) client(from string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: p.tls,
		DialContext:     dialer(from).DialContext,
	}}
}

func dialer(from string) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return d
}

// waitConnect returns the handler's view of the next request for topic on
// path, dropping others.
func (p *proxy) waitConnect(t *testing.T, path, topic string) connect {
	t.Helper()
	timeout := time.After(flowTimeout)
	for {
		select {
		case c := <-p.connects:
			if c.path == path && c.topic == topic {
				return c
			}
		case <-timeout:
			t.Fatalf("the handler saw no request for %s?topic=%s", path, topic)
		}
	}
}

// publish publishes data to topic through the server's Hub.
func (p *proxy) publish(t *testing.T, topic, data string) {
	t.Helper()
	if _, err := p.srv.Hub().Publish(topic, []byte(data)); err != nil {
		t.Fatalf("publish to %s: %v", topic, err)
	}
}

// envelope is a publication or another object of PROTOCOL.md.
type envelope struct {
	Op     string `json:"op"`
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
	Data   string `json:"data"`
	SID    string `json:"sid"`
}

// sseStream is an open /sse response.
type sseStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// sseEvent is one Server-Sent Event: its name ("" for publications) and
// its data.
type sseEvent struct{ name, data string }

func (p *proxy) openSSE(t *testing.T, c *http.Client, query string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/sse?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /sse: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sse: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET /sse: Content-Type %q", ct)
	}
	return &sseStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event; the end of the stream fails the test.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading /sse: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// until reads events until one named name whose data decodes to an
// envelope that ok accepts.
func (s *sseStream) until(name string, ok func(envelope) bool) envelope {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.name != name {
			continue
		}
		var e envelope
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			s.t.Fatalf("event %s: %v: %s", ev.name, err, ev.data)
		}
		if ok(e) {
			return e
		}
	}
}

// flows runs each client flow through p.
func flows(t *testing.T, p *proxy) {
	t.Run("wss", func(t *testing.T) {
		const topic = "wss-news"
		d := websocket.Dialer{
			TLSClientConfig:  p.tls,
			NetDialContext:   dialer("").DialContext,
			Subprotocols:     []string{codec.EnvelopeProtocol},
			HandshakeTimeout: flowTimeout,
		}
		u := "wss" + strings.TrimPrefix(p.base, "https") + "/ws?topic=" + topic
		// A browser's handshake: c1m's same-origin check must see the
		// Host the client sent, port included.
		ws, resp, err := d.DialContext(t.Context(), u, http.Header{"Origin": {p.base}})
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		defer ws.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != codec.EnvelopeProtocol {
			t.Fatalf("subprotocol %q through the proxy", got)
		}
		_ = ws.SetReadDeadline(time.Now().Add(flowTimeout))
		for i := 1; i <= 3; i++ {
			want := fmt.Sprintf("wss publication %d", i)
			p.publish(t, topic, want)
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				var e envelope
				if err := json.Unmarshal(msg, &e); err != nil {
					t.Fatalf("%v: %s", err, msg)
				}
				if e.Op != "" {
					continue // subscribed
				}
				if e.Topic != topic || e.Data != want || e.Offset != uint64(i) {
					t.Fatalf("got %s, want %q at offset %d", msg, want, i)
				}
				break
			}
		}
		// A command through the proxy, and its reply.
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","topic":"wss-more","id":1}`)); err != nil {
			t.Fatal(err)
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if string(msg) == `{"op":"ok","id":1}` {
				break
			}
		}
	})

	t.Run("sse", func(t *testing.T) {
		const topic = "sse-news"
		s := p.openSSE(t, p.client(""), "topic="+topic)
		s.until("subscribed", func(e envelope) bool { return e.Topic == topic })
		for i := 1; i <= 3; i++ {
			want := fmt.Sprintf("sse publication %d", i)
			p.publish(t, topic, want)
			e := s.until("", func(envelope) bool { return true })
			if e.Topic != topic || e.Data != want || e.Offset != uint64(i) {
				t.Fatalf("got %+v, want %q at offset %d", e, want, i)
			}
		}
		if got := s.resp.Header.Get("X-Accel-Buffering"); got != "" && p.name == "nginx" {
			t.Errorf("nginx passed X-Accel-Buffering %q on to the client; it should consume it", got)
		}
	})

	t.Run("poll", func(t *testing.T) {
		const topic = "poll-news"
		c := p.client("")
		// The first poll subscribes and answers at once with the cursor.
		r := poll(t, c, p.base+"/poll?wait=0&topic="+topic)
		if len(r.Messages) != 0 {
			t.Fatalf("first poll: %+v", r)
		}
		// The next one is held by c1m until a publication wakes it.
		type result struct {
			r   pollReply
			dur time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			r := poll(t, c, p.base+"/poll?cursor="+url.QueryEscape(r.Cursor))
			done <- result{r, time.Since(start)}
		}()
		p.waitConnect(t, "/poll", "")
		const want = "poll publication"
		p.publish(t, topic, want)
		got := <-done
		var data []string
		for _, m := range got.r.Messages {
			var e envelope
			if err := json.Unmarshal(m, &e); err != nil {
				t.Fatalf("%v: %s", err, m)
			}
			if e.Topic == topic {
				data = append(data, e.Data)
			}
		}
		if len(data) != 1 || data[0] != want {
			t.Fatalf("held poll got %q (%s), want [%q]", data, got.r.raw, want)
		}
	})

	t.Run("client-address", func(t *testing.T) { clientAddress(t, p) })

	t.Run("quiet-poll", func(t *testing.T) {
		// A poll that nothing wakes is answered by c1m when PollTimeout
		// passes, with no messages: through the proxy that answer must arrive
		// (a proxy read timeout below the poll timeout turns it into 504).
		c := p.client("")
		r := poll(t, c, p.base+"/poll?wait=0&topic=quiet")
		start := time.Now()
		r = poll(t, c, p.base+"/poll?cursor="+url.QueryEscape(r.Cursor))
		// c1m's timers tick coarsely: half the timeout shows it was held.
		if d := time.Since(start); d < quietPoll/2 {
			t.Errorf("a quiet poll answered after %v, well before the poll timeout %v: %s", d, quietPoll, r.raw)
		}
		if len(r.Messages) != 0 || r.Cursor == "" {
			t.Errorf("quiet poll answered %s", r.raw)
		}
	})

	t.Run("send", func(t *testing.T) {
		const topic = "send-news"
		c := p.client("")
		s := p.openSSE(t, c, "")
		open := s.until("session", func(envelope) bool { return true })
		if open.SID == "" {
			t.Fatalf("no sid in %+v", open)
		}
		// Subscribe through POST /send?sid=, as a stream client does.
		post(t, c, p.base+"/send?sid="+url.QueryEscape(open.SID), `{"op":"subscribe","topic":"`+topic+`","id":5}`, http.StatusAccepted)
		s.until("subscribed", func(e envelope) bool { return e.Topic == topic })
		// Publish through POST /send, as a poll client does: the reply is
		// the answer's body, the publication reaches the stream.
		const want = "sent through the proxy"
		body := post(t, c, p.base+"/send", `{"op":"publish","topic":"`+topic+`","data":"`+want+`","id":6}`, http.StatusOK)
		if !strings.Contains(body, `"ok"`) {
			t.Fatalf("publish reply %q", body)
		}
		e := s.until("", func(envelope) bool { return true })
		if e.Topic != topic || e.Data != want {
			t.Fatalf("got %+v, want %q on %s", e, want, topic)
		}
	})
}

// clientAddress checks that the handler sees the client's address, not
// the proxy's, on every transport, and not the one a client writes into
// X-Forwarded-For itself. The client dials the proxy from proxyClient.
func clientAddress(t *testing.T, p *proxy) {
	const client = proxyClient
	spoof := http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	check := func(t *testing.T, path, topic string) {
		t.Helper()
		c := p.waitConnect(t, path, topic)
		host, _, err := net.SplitHostPort(c.remote)
		if err != nil {
			t.Fatal(err)
		}
		if host != client {
			t.Errorf("%s: the handler saw %s, want the client's %s", path, c.remote, client)
		}
	}
	t.Run("wss", func(t *testing.T) {
		d := websocket.Dialer{TLSClientConfig: p.tls, NetDialContext: dialer(client).DialContext, HandshakeTimeout: flowTimeout}
		ws, _, err := d.DialContext(t.Context(), "wss"+strings.TrimPrefix(p.base, "https")+"/ws?topic=addr-ws", spoof)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		check(t, "/ws", "addr-ws")
	})
	t.Run("sse", func(t *testing.T) {
		c := p.client(client)
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/sse?topic=addr-sse", nil)
		req.Header = spoof.Clone()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		check(t, "/sse", "addr-sse")
	})
	t.Run("poll", func(t *testing.T) {
		c := p.client(client)
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/poll?wait=0&topic=addr-poll", nil)
		req.Header = spoof.Clone()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		check(t, "/poll", "addr-poll")
	})
}

// stickyClients is how many client addresses the sticky flow uses: enough
// that both of two nodes get streams, whatever the hash does with this
// run's ports (a node that got less than a third of the hash ring misses
// all of them about once in 10^5 runs).
const stickyClients = 32

// sticky checks, with two nodes or more, that a stream's POST /send?sid=
// reaches the node that holds the stream, for clients from many
// addresses, and that the streams are spread over the nodes.
func sticky(t *testing.T, p *proxy) {
	perNode := make([]int, len(p.nodes))
	for i := range stickyClients {
		from := fmt.Sprintf("127.0.1.%d", i+1)
		topic := fmt.Sprintf("sticky-%d", i)
		c := p.client(from)
		s := p.openSSE(t, c, "topic="+topic)
		open := s.until("session", func(envelope) bool { return true })
		perNode[p.waitConnect(t, "/sse", topic).node]++
		// A /send that lands on another node gets 404: that node has no
		// such session.
		post(t, c, p.base+"/send?sid="+url.QueryEscape(open.SID), `{"op":"subscribe","topic":"sticky-more","id":1}`, http.StatusAccepted)
		s.until("subscribed", func(e envelope) bool { return e.Topic == "sticky-more" })
		_ = s.resp.Body.Close()
		c.CloseIdleConnections()
	}
	t.Logf("streams per node: %v", perNode)
	for i, n := range perNode {
		if n == 0 {
			t.Errorf("node %d got none of %d streams from as many addresses: %v", i, stickyClients, perNode)
		}
	}
}

// pollReply is a /poll answer.
type pollReply struct {
	Cursor   string            `json:"cursor"`
	Messages []json.RawMessage `json:"messages"`
	raw      []byte
}

func poll(t *testing.T, c *http.Client, u string) pollReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Error(err)
		return pollReply{}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return pollReply{}
	}
	defer resp.Body.Close()
	var r pollReply
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Errorf("GET %s: %v", u, err)
	}
	r.raw = buf.Bytes()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s: %s", u, resp.Status, r.raw)
		return r
	}
	if err := json.Unmarshal(r.raw, &r); err != nil {
		t.Errorf("GET %s: %v: %s", u, err, r.raw)
	}
	return r
}

func post(t *testing.T, c *http.Client, u, body string, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %s (want %d): %s", u, resp.Status, want, buf.String())
	}
	return buf.String()
}
