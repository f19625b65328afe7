package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// server is one server under test, as the driver builds and runs it.
type server struct {
	name  string
	build func(bin string) error // builds the binary at bin
	exe   string                 // the program to run, when not bin (node)
	args  func(ws, api string) []string
	// endpoints are the transports the server serves to clients ("ws",
	// "sse", "poll"): where the first request goes and how publications
	// come back.
	endpoints map[string]endpoint
	// topic is what the fanout publishes to and the endpoints subscribe
	// to.
	topic string
	// publish is the HTTP API the fanout and history publish through
	// (its path is "" when the server has none: the echo-only builds).
	publish publishing
	// history is the topic prefix the history scenario publishes under,
	// "" when the server keeps no history.
	history string
	// stats is a URL path on the API listener: JSON with connections and
	// heap_inuse_bytes (?gc=1 collects first), or a Go heap profile in
	// text form (a /debug/pprof/heap path) whose HeapInuse is read.
	stats string
	note  string // what the peer lacks, said in the results
}

// endpoint is one transport of a server.
type endpoint struct {
	path    string // first request target, with the topic query
	dialect string // dialectRaw, dialectC1m, dialectCentrifugo, dialectSocketIO
	join    string // dialectSocketIO: the join event's arguments, a JSON array
	joinAck string // dialectSocketIO: the ack's arguments when the join went through
}

// wsOnly is the endpoint set of a server that speaks raw WebSocket.
func wsOnly(path string) map[string]endpoint {
	return map[string]endpoint{"ws": {path: path, dialect: dialectRaw}}
}

// repo is the c1m repository root, found from the bench module.
func repo() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bench", "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

func goBuild(moduleDir, pkg string) func(string) error {
	return func(bin string) error {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = moduleDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return nil
	}
}

func peer(name, note string) server {
	return server{
		name:      name,
		build:     goBuild(filepath.Join(repo(), "bench", "peers"), "./"+name),
		args:      func(ws, api string) []string { return []string{"-addr", ws, "-api", api} },
		endpoints: wsOnly("/ws?topic=t"),
		topic:     "t",
		publish:   publishing{path: "/publish?topic="},
		stats:     "/stats?gc=1",
		note:      note,
	}
}

// c1mFlags are -c1m-flags: more flags for the c1m binary; c1mEnv is
// -c1m-env, more environment for it.
var c1mFlags, c1mEnv []string

// servers lists every server the bench knows, c1m first.
func servers() []server {
	root := repo()
	return []server{
		{
			name:  "c1m",
			build: goBuild(root, "./cmd/c1m"),
			args: func(ws, api string) []string {
				return append([]string{"-listen", ws, "-api", api, "-log-level", "warn", "-demo=false", "-compression=false"}, c1mFlags...)
			},
			endpoints: map[string]endpoint{
				"ws":   {path: "/ws?topic=t", dialect: dialectRaw},
				"sse":  {path: "/sse?topic=t", dialect: dialectC1m},
				"poll": {path: "/poll?topic=t", dialect: dialectC1m},
				// The binary's push namespace (socketio.ServePush): a
				// client joins room t, topic t, with emit("subscribe",
				// "t", ack); the ack is null, or the refusal's reason.
				"sio": {path: sioPath, dialect: dialectSocketIO, join: `["subscribe","t"]`, joinAck: `[null]`},
			},
			topic:   "t",
			publish: publishing{path: "/api/publish?topic="},
			history: "h",
			stats:   "/api/stats?gc=1",
		},
		centrifugo(),
		peer("gorilla", "gorilla/websocket: a reader and a writer goroutine per connection"),
		peer("coder", "coder/websocket: a reader and a writer goroutine per connection"),
		peer("gobwas", "gobwas/ws over net.Conn: a reader and a writer goroutine per connection"),
		peer("gws", "lxzan/gws: a read-loop goroutine per connection, WriteAsync for fan-out"),
		peer("nbio", "lesismal/nbio nbhttp: non-blocking mode, no goroutine per connection"),
		{
			name:  "node-ws",
			build: nodeDeps("node"),
			exe:   "node",
			args: func(ws, api string) []string {
				return []string{"--expose-gc", filepath.Join(root, "bench", "peers", "node", "server.mjs"), "-addr", ws, "-api", api}
			},
			endpoints: wsOnly("/ws?topic=t"), topic: "t", publish: publishing{path: "/publish?topic="}, stats: "/stats?gc=1",
			note: "Node ws: one process, one thread; heap is V8's",
		},
		socketioNode(),
		socketioGo(),
		peer("ceiling", "not a server: one write(2) per socket per message, one goroutine per core, no framing work"),
		peer("gnetfloor", "not a server: gnet plus the handshake and nothing else per connection, the memory floor under c1m"),
	}
}

// nodeDeps makes the Node peer in bench/peers/DIR runnable: deps.sh
// installs node and npm when they are missing and the locked npm packages
// (npm ci).
func nodeDeps(dir string) func(string) error {
	return func(string) error {
		peers := filepath.Join(repo(), "bench", "peers")
		cmd := exec.Command("bash", filepath.Join(peers, "node", "deps.sh"), filepath.Join(peers, dir))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench/peers/node/deps.sh %s: %v\n%s", dir, err, out)
		}
		return nil
	}
}

// sioEndpoints is the endpoint set of a Socket.IO peer: WebSocket-only
// clients that join room t with the "join" event.
func sioEndpoints() map[string]endpoint {
	return map[string]endpoint{"sio": {path: sioPath, dialect: dialectSocketIO, join: `["join","t"]`, joinAck: `["t"]`}}
}

// socketioNode is the official Node socket.io server
// (bench/peers/socketio-node, pinned in its package-lock.json).
func socketioNode() server {
	return server{
		name:  "socketio-node",
		build: nodeDeps("socketio-node"),
		exe:   "node",
		args: func(ws, api string) []string {
			return []string{"--expose-gc", filepath.Join(repo(), "bench", "peers", "socketio-node", "server.mjs"), "-addr", ws, "-api", api}
		},
		endpoints: sioEndpoints(), topic: "t", publish: publishing{path: "/publish?topic="}, stats: "/stats?gc=1",
		note: "the official Node socket.io 4.8.4 server: one process, one thread; heap is V8's",
	}
}

// socketioGo is github.com/zishang520/socket.io (bench/peers/socketio-go).
func socketioGo() server {
	s := peer("socketio-go", "zishang520/socket.io v3.0.6 (Go, on net/http): goroutines per connection")
	s.build = goBuild(filepath.Join(repo(), "bench", "peers"), "./socketio-go")
	s.endpoints = sioEndpoints()
	return s
}

// echoServer is the build each server uses for the echo scenario: c1m's is
// examples/echo; the peers echo on their push path.
func echoServer(s server) server {
	if s.name != "c1m" {
		return s
	}
	return server{
		name:      "c1m",
		build:     goBuild(repo(), "./examples/echo"),
		args:      func(ws, _ string) []string { return []string{"-addr", ws} },
		endpoints: wsOnly("/"),
	}
}

// freePort returns a free loopback port.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running server.
type process struct {
	cmd     *exec.Cmd
	ws, api string
}

// start runs s and waits until its listeners accept.
func start(s server, bin string) (*process, error) {
	ws, api := freePort(), freePort()
	name := bin
	if s.exe != "" {
		name = s.exe
	}
	cmd := exec.Command(name, s.args(ws, api)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if s.name == "c1m" && len(c1mEnv) > 0 {
		cmd.Env = append(os.Environ(), c1mEnv...)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, ws: ws, api: api}
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range []string{ws, api} {
		if s.publish.path == "" && s.stats == "" && addr == api {
			continue
		}
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				p.stop()
				return nil, fmt.Errorf("%s did not listen on %s", s.name, addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p, nil
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
