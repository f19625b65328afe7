// Command c1m runs the c1m push server: WebSocket clients on -listen (gnet),
// the backend API, metrics and probes on -api (net/http).
//
//	go run ./cmd/c1m
//	curl -d hello 'http://127.0.0.1:8081/api/publish?topic=news'
//
// Every flag has an environment variable (C1M_ and the flag's name in upper
// case, dashes as underscores); a flag given on the command line wins.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/httpapi"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// apiIdleTimeout closes an API connection that waits that long for its
// next request: under -api-max-conns, idle keep-alive connections must
// not keep the probes out for good.
const apiIdleTimeout = 30 * time.Second

//go:embed demo.html
var demoPage []byte

type options struct {
	listen, api, apiKey, path, logLevel, slowPolicy string
	loops, maxTopics, maxConns, backlog, deflateWin int
	apiMaxConns                                     int
	maxConnsPerIP, commandBurst, handshakeBurst     int
	maxConnsPerUser, maxPollsPerIP, publishBurst    int
	commandRate, handshakeRate, publishRate         float64
	proxyProtocol                                   string
	maxMessage, maxOutbound                         int
	compression, demoPublish, demo, reusePort       bool
	drain, drainSpread, ping                        time.Duration
	origins                                         string
	trustedProxies, clientAddrHeader                string
	history, pollMaxBytes                           int
	historyTTL, pollTimeout                         time.Duration
	historyMaxBytes                                 int64
	historyRules                                    ruleFlags
	jsonp                                           bool
	transports, flashDomains, flashPorts            string
	authMode, jwtSecret, jwtKeys, authCookie        string
	protected, userPrefix                           string
	cluster                                         clusterOptions
	socketIO, socketIORecovery                      bool
	socketIOPath                                    string
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("c1m", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", ":8080", "client listener (WebSocket, demo page)")
	fs.StringVar(&o.api, "api", "127.0.0.1:8081", "API listener: publish, stats, metrics, probes, pprof")
	fs.IntVar(&o.apiMaxConns, "api-max-conns", 128, "API connections served at once, at least 1; more wait in the kernel's queue (each is a file descriptor beside the client connections' cap: keep it within 1/64 of the open-file limit); idle ones close after 30 s")
	fs.StringVar(&o.apiKey, "api-key", "", "require 'Authorization: Bearer KEY' on /api/ (empty: no key)")
	fs.StringVar(&o.path, "path", "/ws", "WebSocket path")
	fs.BoolVar(&o.reusePort, "reuse-port", false, "share -listen's port with other c1m processes on this host (SO_REUSEPORT; needs a fixed port)")
	fs.IntVar(&o.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&o.maxTopics, "max-topics", server.DefaultMaxTopics, "topics per session")
	fs.IntVar(&o.maxConns, "max-conns", 0, "client connections at most; more get 503 (0: the open-file limit less a reserve of 1/64 and 1%)")
	fs.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 0, "client connections per client address (behind -trusted-proxies, the one they forward); more get 429 (0: no limit)")
	fs.Float64Var(&o.handshakeRate, "handshake-rate", 0, "requests that open a session (upgrades, streams, polls) per second and client address; more get 429 (0: no limit)")
	fs.IntVar(&o.handshakeBurst, "handshake-burst", 0, "such requests an address may make at once before -handshake-rate applies (0: one second's worth)")
	fs.Float64Var(&o.commandRate, "command-rate", 0, "client commands (subscribe, publish...) per second and session; over it an error reply, then close 1008 (0: no limit)")
	fs.IntVar(&o.commandBurst, "command-burst", 0, "client commands a session may send at once before -command-rate applies (0: one second's worth)")
	fs.Float64Var(&o.publishRate, "publish-rate", 0, "client publish commands per second and session, apart from -command-rate; over it an error reply, then close 1008 (0: no limit)")
	fs.IntVar(&o.publishBurst, "publish-burst", 0, "publications a session may send at once before -publish-rate applies (0: one second's worth)")
	fs.IntVar(&o.maxConnsPerUser, "max-conns-per-user", 0, "sessions per user (a token's sub) on all transports; more get 429 (0: no limit)")
	fs.IntVar(&o.maxPollsPerIP, "max-polls-per-ip", 0, "long-polls one client address holds at once; more get 429 (0: no limit)")
	fs.StringVar(&o.proxyProtocol, "proxy-protocol", "off", "PROXY protocol v1/v2 header from the -trusted-proxies: off, optional or required")
	fs.IntVar(&o.backlog, "backlog", 0, "listen backlog of each loop (0: the kernel's somaxconn)")
	fs.IntVar(&o.maxMessage, "max-message", 64<<10, "largest client message, bytes")
	fs.IntVar(&o.maxOutbound, "max-outbound", server.DefaultMaxOutbound, "bytes queued per slow client before the policy applies")
	fs.StringVar(&o.slowPolicy, "slow-policy", "disconnect", "slow clients: disconnect (close 1008) or drop")
	fs.BoolVar(&o.compression, "compression", true, "permessage-deflate for clients that offer it")
	fs.IntVar(&o.deflateWin, "deflate-window", codec.DefaultClientWindowBits, "permessage-deflate: dictionary kept per client between its messages, in window bits, 9 to 15 (2^bits bytes); 0: none")
	fs.BoolVar(&o.demo, "demo", true, "serve the demo page at /")
	fs.BoolVar(&o.demoPublish, "demo-publish", false, "let clients (and the demo page) publish")
	fs.StringVar(&o.origins, "origins", "", "comma-separated allowed Origin hosts (path.Match patterns; empty: same origin only)")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated networks (CIDR) or addresses of the proxies in front, whose X-Forwarded-For names the client (empty: none; see deploy/)")
	fs.StringVar(&o.clientAddrHeader, "client-addr-header", server.HeaderForwardedFor, "header the -trusted-proxies name the client in: X-Forwarded-For, Forwarded (RFC 7239) or another list of addresses such as X-Real-IP")
	fs.DurationVar(&o.ping, "ping", session.DefaultPingInterval, "keepalive ping interval (negative: off)")
	fs.DurationVar(&o.drain, "drain", server.DefaultDrainTimeout, "shutdown: longest wait for sessions to close")
	fs.DurationVar(&o.drainSpread, "drain-spread", 3*time.Second, "shutdown: spread close frames over this long")
	fs.IntVar(&o.history, "history", 100, "publications each topic keeps for clients that resume (0: none)")
	fs.DurationVar(&o.historyTTL, "history-ttl", 2*time.Minute, "how long history entries are kept (0: until -history or the cap pushes them out)")
	fs.Int64Var(&o.historyMaxBytes, "history-max-bytes", session.DefaultHistoryMaxBytes, "memory cap of all topics' history, bytes")
	fs.Var(&o.historyRules, "history-rule", "PREFIX=COUNT[/TTL]: history of topics starting with PREFIX (repeatable)")
	fs.BoolVar(&o.jsonp, "jsonp", false, "serve JSONP polling (/poll?callback=): any site can read it")
	fs.DurationVar(&o.pollTimeout, "poll-timeout", server.DefaultPollTimeout, "how long a long-poll is held")
	fs.IntVar(&o.pollMaxBytes, "poll-max-bytes", server.DefaultPollMaxBytes, "largest poll reply, bytes of messages")
	fs.StringVar(&o.transports, "transports", "", "comma-separated transports offered: websocket,sse,stream,iframe,poll (empty: all)")
	fs.StringVar(&o.flashDomains, "flash-policy-domains", "*", "comma-separated domains of the Flash socket policy answer")
	fs.StringVar(&o.flashPorts, "flash-policy-ports", "", "ports of the Flash socket policy answer (empty: the client port)")
	fs.StringVar(&o.authMode, "auth", "off", "JWT connection tokens: off, optional (anonymous clients get public topics) or required (401 without a token)")
	fs.StringVar(&o.jwtSecret, "jwt-secret", "", "HS256 secret of connection tokens")
	fs.StringVar(&o.jwtKeys, "jwt-keys", "", "file of RS256/ES256 public keys of connection tokens, PEM or JWKS; reloaded on SIGHUP")
	fs.StringVar(&o.authCookie, "auth-cookie", server.DefaultTokenCookie, "cookie that may carry the connection token")
	fs.StringVar(&o.protected, "auth-protected", strings.Join(auth.DefaultProtected, ","), "comma-separated topic prefixes that only a token's topics or publish claim allows")
	fs.StringVar(&o.userPrefix, "auth-user-prefix", auth.DefaultUserPrefix, "topics PREFIX<sub>[:...] belong to the token's sub only (-: none)")
	fs.BoolVar(&o.socketIO, "socketio", true, "serve Socket.IO v5 (Engine.IO v4) on the client listener: clients join rooms (topics) with a subscribe event")
	fs.StringVar(&o.socketIOPath, "socketio-path", server.DefaultEnginePath, "Socket.IO path (the client's path option)")
	fs.BoolVar(&o.socketIORecovery, "socketio-recovery", true, "Socket.IO connection state recovery within -history-ttl, from topic history (needs -history)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.cluster.flags(fs)
	// Environment first, so that flags on the command line override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := "C1M_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", key, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	return o, fs.Parse(args)
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "c1m:", err)
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "c1m: -log-level:", err)
		os.Exit(2)
	}
	if o.cluster.nodeID == "" {
		o.cluster.nodeID = broker.DefaultNodeID()
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", o.cluster.nodeID))
	if err := run(o); err != nil {
		slog.Error("c1m: exiting", "err", err)
		os.Exit(1)
	}
}

// spareProc gives the Go runtime one P more than the loops can hold,
// unless GOMAXPROCS is set in the environment. A loop keeps its P through
// the writes of a fan-out (raw write(2), server/output.go), so with no P
// beyond the loops' the API, the NATS client and the garbage collector
// wait for a loop to yield: bursts of publications then reach the loops
// one by one instead of together, and coalesce less (2,000 subscribers,
// c1mbench: bursts at 552,000 deliveries/s with 2 Ps, 651,000 with 3).
// Setting it stops the runtime from following a container's CPU limit as
// it changes; in a container limited below the CPUs, give -loops and
// GOMAXPROCS explicitly.
func spareProc(loops int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if loops == 0 {
		loops = runtime.NumCPU() // server.Config's default
	}
	if procs := runtime.GOMAXPROCS(0); loops >= procs {
		runtime.GOMAXPROCS(procs + 1)
	}
}

// deflateConfig is permessage-deflate with a client window of bits (the
// -deflate-window flag): 0 keeps no client context.
func deflateConfig(bits int) (*codec.DeflateConfig, error) {
	switch {
	case bits == 0:
		return &codec.DeflateConfig{ClientNoContext: true}, nil
	case bits >= codec.MinClientWindowBits && bits <= codec.MaxClientWindowBits:
		return &codec.DeflateConfig{ClientWindowBits: bits}, nil
	}
	return nil, fmt.Errorf("-deflate-window %d: want 0 or %d to %d", bits, codec.MinClientWindowBits, codec.MaxClientWindowBits)
}

// parsePrefixes parses a comma-separated list of networks ("10.0.0.0/8")
// and single addresses ("127.0.0.1", "::1"), for -trusted-proxies.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (CIDR) nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func run(o *options) error {
	if o.apiMaxConns < 1 {
		return fmt.Errorf("-api-max-conns %d: want at least 1", o.apiMaxConns)
	}
	raiseFileLimit()
	spareProc(o.loops)
	cfg := &server.Config{
		Addr:            o.listen,
		Path:            o.path,
		Loops:           o.loops,
		ReusePort:       o.reusePort,
		MaxMessage:      int64(o.maxMessage),
		MaxFrame:        int64(o.maxMessage),
		MaxOutbound:     o.maxOutbound,
		Protocols:       []string{codec.EnvelopeProtocol},
		Timing:          session.Config{PingInterval: o.ping},
		DrainSpread:     o.drainSpread,
		MaxConns:        o.maxConns,
		MaxConnsPerIP:   o.maxConnsPerIP,
		MaxConnsPerUser: o.maxConnsPerUser,
		MaxPollsPerIP:   o.maxPollsPerIP,
		HandshakeRate:   o.handshakeRate,
		HandshakeBurst:  o.handshakeBurst,
		Backlog:         o.backlog,
		History: session.HistoryConfig{
			Size: o.history, TTL: o.historyTTL, MaxBytes: o.historyMaxBytes, Rules: o.historyRules,
		},
		JSONP:        o.jsonp,
		PollTimeout:  o.pollTimeout,
		PollMaxBytes: o.pollMaxBytes,
		FlashPolicy:  &server.FlashPolicy{Domains: strings.Split(o.flashDomains, ","), Ports: o.flashPorts},
	}
	if o.transports != "" {
		cfg.Transports = strings.Split(o.transports, ",")
	}
	if o.drain > 0 {
		cfg.DrainTimeout = o.drain
	}
	switch o.slowPolicy {
	case "disconnect":
	case "drop":
		cfg.SlowPolicy = server.SlowDrop
	default:
		return fmt.Errorf("-slow-policy %q: want disconnect or drop", o.slowPolicy)
	}
	if o.origins != "" {
		cfg.AllowedOrigins = strings.Split(o.origins, ",")
	}
	tp, err := parsePrefixes(o.trustedProxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	cfg.TrustedProxies = tp
	if cfg.ProxyProtocol, err = server.ParseProxyProtocol(o.proxyProtocol); err != nil {
		return fmt.Errorf("-proxy-protocol %q: %w", o.proxyProtocol, err)
	}
	if cfg.ProxyProtocol != server.ProxyProtocolOff && len(tp) == 0 {
		return fmt.Errorf("-proxy-protocol %s: name the proxies that send it with -trusted-proxies", o.proxyProtocol)
	}
	cfg.ClientAddrHeader = o.clientAddrHeader
	if o.compression {
		d, err := deflateConfig(o.deflateWin)
		if err != nil {
			return err
		}
		cfg.Compression = d
	}
	pc := &server.PushConfig{
		MaxTopics: o.maxTopics, ClientPublish: o.demoPublish,
		CommandRate: o.commandRate, CommandBurst: o.commandBurst,
		PublishRate: o.publishRate, PublishBurst: o.publishBurst,
	}
	if err := configureAuth(o, pc); err != nil {
		return err
	}
	push := server.NewPush(pc)
	sio, engine := socketIO(o, pc, push)
	cfg.Engine = engine
	var srv *server.Server
	if o.demo {
		cfg.Pages = map[string]server.Page{
			"/":           {ContentType: "text/html; charset=utf-8", Body: demoPage},
			"/stats.json": {ContentType: "application/json", Render: func() []byte { return demoStats(srv, o.demoPublish) }},
		}
	}
	srv = server.New(push, cfg)
	if sio != nil {
		sio.Attach(srv.Hub())
	}
	// The node joins the cluster, and reads its history, before it serves
	// a client. A node that loses the cluster's history drains and exits
	// (its clients reconnect and are reset): lost ends the wait below.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lostCtx, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	// The broker drives the hub's machinery (SetBus, Deliver, Inbound),
	// which the embedding API leaves out: convert explicitly.
	b, err := startBroker(&o.cluster, o.cluster.nodeID, cfg.History, (*session.Hub)(srv.Hub()), lose)
	if err != nil {
		return err
	}
	apiCfg := &httpapi.Config{APIKey: o.apiKey, Push: push}
	if b != nil {
		defer b.Close()
		if sio != nil && sio.RecordTTL() > 0 {
			// Socket.IO recovery across the cluster's nodes.
			kept, err := b.KeptStore(sio.RecordTTL())
			if err != nil {
				return fmt.Errorf("-nats: %w", err)
			}
			stopRefresh := sio.UseStore(kept, o.cluster.nodeID)
			defer func() {
				// After the drain, whose sessions' records are marked as
				// dropped, and before the broker closes.
				stopRefresh()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = kept.Flush(ctx)
			}()
		}
		apiCfg.Cluster, apiCfg.NodeID = b, o.cluster.nodeID
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("client listener %s: %w", o.listen, err)
	}

	api := httpapi.New(srv, apiCfg)
	apiLn, err := net.Listen("tcp", o.api)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("API listener: %w", err)
	}
	// Bounded, so that a flood of API connections cannot take the files
	// the client connections' cap leaves free.
	apiLn = netutil.LimitListener(apiLn, o.apiMaxConns)
	// An idle keep-alive connection holds its place under that bound
	// until it is closed or times out.
	apiSrv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: apiIdleTimeout}
	go func() {
		if err := apiSrv.Serve(apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("c1m: API listener", "err", err)
		}
	}()
	if pc.Tokens != nil {
		defer reloadOnHangup(o, pc.Tokens)()
	}
	slog.Info("c1m: ready", "clients", "ws://"+srv.Addr().String()+o.path, "api", "http://"+apiLn.Addr().String())

	select {
	case <-lostCtx.Done():
	case <-srv.Done():
		// The engine stopped by itself (gnet ends it on a fatal accept
		// error): a node that takes no client must not look alive.
		api.SetReady(false)
		_ = apiSrv.Close()
		return fmt.Errorf("client listener: %w", srv.Err())
	}
	stop()
	lostErr := context.Cause(lostCtx)
	if errors.Is(lostErr, context.Canceled) {
		lostErr = nil // a signal
	}
	// Readiness flips first so load balancers stop sending clients, then the
	// sessions are closed with 1001, spread over -drain-spread.
	slog.Info("c1m: draining", "connections", srv.Connections(), "bound", o.drain)
	api.SetReady(false)
	drainCtx, cancel := context.WithTimeout(context.Background(), o.drain+time.Second)
	defer cancel()
	err = srv.Shutdown(drainCtx)
	_ = apiSrv.Shutdown(drainCtx)
	if err != nil && !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	slog.Info("c1m: stopped")
	return lostErr
}

// demoStats is /stats.json on the client listener, for the demo page: the
// open sessions (the page's own request for this is not one).
func demoStats(srv *server.Server, clientPublish bool) []byte {
	b, _ := json.Marshal(map[string]any{"connections": srv.Hub().Totals().Sessions, "client_publish": clientPublish})
	return b
}

// raiseFileLimit lifts the soft open-file limit to the hard one: every
// connection is a file descriptor.
func raiseFileLimit() {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			slog.Warn("c1m: cannot raise the open-file limit", "err", err)
		}
	}
	slog.Info("c1m: open-file limit", "files", rl.Cur)
}

// ruleFlags is the repeatable -history-rule flag: PREFIX=COUNT[/TTL].
type ruleFlags []session.HistoryRule

func (r *ruleFlags) String() string {
	parts := make([]string, len(*r))
	for i, x := range *r {
		parts[i] = fmt.Sprintf("%s=%d/%s", x.Prefix, x.Size, x.TTL)
	}
	return strings.Join(parts, ",")
}

func (r *ruleFlags) Set(v string) error {
	prefix, spec, ok := strings.Cut(v, "=")
	if !ok || prefix == "" {
		return fmt.Errorf("want PREFIX=COUNT[/TTL], got %q", v)
	}
	count, ttl, _ := strings.Cut(spec, "/")
	rule := session.HistoryRule{Prefix: prefix}
	if _, err := fmt.Sscan(count, &rule.Size); err != nil || rule.Size < 0 {
		return fmt.Errorf("history rule %q: bad count", v)
	}
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil || d < 0 {
			return fmt.Errorf("history rule %q: bad TTL", v)
		}
		rule.TTL = d
	}
	*r = append(*r, rule)
	return nil
}
