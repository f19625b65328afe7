package server

import (
	"maps"
	"net/netip"
	"runtime"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Config configures a Server. Its zero value serves WebSocket on /ws at
// 127.0.0.1:8080 with the defaults below. The Server copies it.
type Config struct {
	// Addr is the TCP listen address. Zero means "127.0.0.1:8080"; a zero
	// port picks a free one (see Server.Addr).
	Addr string
	// Path is the request path that upgrades to WebSocket. Zero means
	// "/ws"; "*" upgrades on every path.
	Path string
	// Loops is the number of event loops. Zero means runtime.NumCPU().
	// A loop keeps its P (Go's processor) through the writes of a
	// fan-out, so give the runtime one more than Loops (GOMAXPROCS of
	// Loops+1, as the c1m binary does): with none to spare, the rest of
	// the process (the API, a broker's client, the collector) waits for a
	// loop to yield, and bursts of publications coalesce less.
	Loops int
	// ReusePort lets several processes (nodes of a cluster) on one host
	// serve the same port: the kernel spreads new connections over every
	// socket bound to it, across processes, by a hash of the connection's
	// addresses. Each loop always has a listening socket of its own,
	// bound with SO_REUSEPORT, and accepts for itself; without ReusePort
	// (the default) Serve first refuses a port that another socket listens
	// on, with EADDRINUSE. Addr needs a fixed port then: with port 0 no
	// other process could find it, so Serve refuses it with
	// ErrReusePortZero. A later process that sets ReusePort can join the
	// port of a server without it (the kernel allows it to the same user).
	ReusePort bool
	// MaxHead limits a request head. Zero means 16 KiB. Over it: 431.
	MaxHead int
	// MaxFrame limits one frame's payload. Zero means 1 MiB; values over
	// MaxLimit are lowered to it. Over it: close 1009, decided from the
	// frame header.
	MaxFrame int64
	// MaxMessage limits a message (all its fragments; for a compressed
	// message also its decompressed size). Zero means 4 MiB; values over
	// MaxLimit are lowered to it.
	MaxMessage int64
	// MaxOutbound caps the bytes queued for one client that does not read
	// fast enough. Zero means 4 MiB. Over it, SlowPolicy applies.
	MaxOutbound int
	// SlowPolicy is what happens to a client over MaxOutbound. Zero means
	// SlowDisconnect.
	SlowPolicy SlowPolicy
	// Protocols are the WebSocket subprotocols offered, most preferred
	// first.
	Protocols []string
	// AllowedOrigins lists the Origin hosts (path.Match patterns such as
	// "*.example.com", or "*" for any) allowed to open a WebSocket. Zero
	// allows requests without Origin and same-origin ones (Origin host equal
	// to Host), which stops cross-site WebSocket hijacking. Others get 403.
	AllowedOrigins []string
	// Compression enables permessage-deflate for clients that offer it.
	// Nil disables it.
	Compression *codec.DeflateConfig
	// Timing configures handshake deadline, idle timeout, keepalive pings
	// and close timeout (see session.Config for defaults).
	Timing session.Config
	// Workers, when positive, runs Handler.OnOpen, OnMessage and OnClose on
	// that many worker goroutines instead of the event loop, for handlers
	// that block. Each session's events stay in order (a session always
	// maps to the same worker). Zero runs handlers on the loop.
	//
	// A worker is not the session's loop: there a handler may call only the
	// Session methods marked Safe for concurrent use (ID, Send, Close,
	// Post, OnLoop) and the Hub. Everything Loop-only (Subscribe,
	// Unsubscribe, Topics, NumTopics, SetUser, Data, SetData, State) must
	// go through s.Post, which runs it on the loop after every task posted
	// before it; s.OnLoop() tells which case applies (Push does this).
	Workers int
	// WorkerQueue is each worker's queue length. Zero means 1024. An event
	// that finds its worker's queue full is kept by the loop, which stops
	// reading that one connection until the queue is down to half; the
	// loop's other connections go on. Meanwhile the client's input waits
	// in the server, up to MaxMessage; past it the client is closed with
	// 1013 (try again later).
	WorkerQueue int
	// DrainTimeout bounds Shutdown: sessions get close 1001, and those still
	// open when it ends are dropped. Zero means 10s.
	DrainTimeout time.Duration
	// DrainSpread spreads the close frames of a shutdown over this long, in
	// ten batches, so that clients do not all reconnect to the other nodes
	// in the same instant. It is cut to half of DrainTimeout, which leaves
	// the last batch time to close. Zero means the smaller of
	// DefaultDrainSpread and half of DrainTimeout; negative closes every
	// session at once.
	DrainSpread time.Duration
	// Pages are static HTTP resources served on the client listener for GET
	// requests to their exact path (a demo page, a health probe). The
	// connection is closed after the answer. The map is copied: changing it
	// after New has no effect. The server adds the browser client,
	// poller.ClientJS, at poller.PathClient (/c1m.js) unless Pages has it.
	Pages map[string]Page
	// ReadBufferCap is gnet's read buffer, one per loop. Zero means 64 KiB.
	ReadBufferCap int
	// Backlog is the listen backlog of each loop's listener: connections
	// the kernel completes before the loop accepts them. They hold no file
	// descriptor of the process yet. Zero means the kernel's somaxconn, as
	// gnet listens; a larger value is lowered to it. Over it, the kernel
	// drops new SYNs until the loop catches up (clients send them again
	// after 1 s, 3 s, ...).
	Backlog int
	// History keeps each topic's recent publications, so that clients
	// resume from their position on every transport (session.
	// HistoryConfig). Zero keeps none: a topic is numbered only while some
	// session subscribes.
	History session.HistoryConfig
	// Transports lists the transports the server offers on the client
	// port, by name: TransportWebSocket, TransportSSE, TransportStream
	// (NDJSON and multipart), TransportIframe, TransportPoll. A request for
	// another gets 404. Zero offers them all. /send follows the HTTP
	// transports.
	Transports []string
	// JSONP enables JSONP polling (/poll?callback=NAME). Any web site can
	// read a JSONP reply, so it must carry nothing private. Off by default.
	JSONP bool
	// PollTimeout is how long a long-poll is held when nothing comes.
	// Zero means 25s.
	PollTimeout time.Duration
	// PollMaxBytes bounds the messages of one poll reply; past it, the
	// reply says "more" and the next poll answers at once. Zero means
	// 1 MiB.
	PollMaxBytes int
	// FlashPolicy, when set, answers the Flash socket policy request
	// (<policy-file-request/>) of the legacy web-socket-js fallback. Nil
	// answers it with any domain and the listener's port.
	FlashPolicy *FlashPolicy
	// MaxConns caps the client connections. A connection over the cap is
	// answered 503 with Retry-After and closed at once. Zero means the
	// open-file limit (RLIMIT_NOFILE, read by Serve) less a reserve for
	// the rest of the process, 1/64 of the limit (128 to 4096, and at
	// least 128 beside 3 per loop) and 1% more (64 to 16,384); a larger
	// value is lowered to that. The cap is not
	// optional: gnet stops the whole engine, dropping every connection,
	// when accept(2) fails with EMFILE.
	MaxConns int
	// TrustedProxies are the networks of the proxies in front of the
	// server (nginx, haproxy: deploy/). A request whose TCP peer is in one
	// of them is taken to come from the address its ClientAddrHeader
	// names: the rightmost entry that is not itself a trusted proxy, so
	// that a client cannot pass off an address it writes into the header.
	// That address is Request.RemoteAddr. Zero trusts no one: RemoteAddr
	// is the TCP peer and the header is ignored. The slice is copied.
	TrustedProxies []netip.Prefix
	// ClientAddrHeader is the header the trusted proxies name the client
	// in. Zero means HeaderForwardedFor; HeaderForwarded reads RFC 7239's
	// for= parameters instead; any other name is read as a comma-separated
	// list of addresses (X-Real-IP, a single one, works). Only this header
	// is read: a proxy that sets one leaves the others as the client
	// wrote them.
	ClientAddrHeader string
	// ProxyProtocol reads the PROXY protocol header (versions 1 and 2)
	// that the TrustedProxies send before each connection's first
	// request: the client it names is the connection's peer, for
	// ClientAddrHeader's walk, RemoteAddr, the limits and the logs.
	// Zero (ProxyProtocolOff) reads none. A header from a peer outside
	// TrustedProxies is refused, whatever the mode.
	ProxyProtocol ProxyProtocol
	// MaxConnsPerIP caps the connections one client address (RemoteAddr:
	// behind TrustedProxies, the address they forward) holds across all
	// loops, counted once its request head is read: a WebSocket, a stream,
	// a held poll or a /send in progress. Over it the request is answered
	// 429 with Retry-After before any upgrade or stream starts. Zero means
	// no limit; the count then costs nothing.
	MaxConnsPerIP int
	// HandshakeRate caps the requests that open a session (a WebSocket
	// upgrade, a stream, each poll and /send) one client address makes,
	// per second, with a token bucket of HandshakeBurst: over it, 429
	// with Retry-After before anything starts. It stops a reconnect storm
	// or a handshake flood from one address from taking the loops' time.
	// A long-poll client makes one request per reply: set it above that.
	// Zero means no limit.
	HandshakeRate float64
	// MaxConnsPerUser caps the sessions of one user (Request.SetUser:
	// with Push and tokens, the token's sub) across all loops and
	// transports, counted like MaxConnsPerIP: over it the request gets
	// 429 with Retry-After once the handler accepted it. Anonymous
	// sessions are not counted. Zero means no limit.
	MaxConnsPerUser int
	// MaxPollsPerIP caps the long-polls one client address holds at once
	// (each poll request until its reply), apart from MaxConnsPerIP: a
	// page polls with one request at a time, so a handful is plenty,
	// while each held poll costs the server a connection. Over it: 429
	// with Retry-After. Zero means no limit.
	MaxPollsPerIP int
	// HandshakeBurst is how many such requests an address may make at once
	// before HandshakeRate applies. Zero means one second's worth (at
	// least 1).
	HandshakeBurst int
	// Engine, when set, serves Engine.IO v4 (the transport layer of
	// Socket.IO) at its Path, with its own handler (EngineConfig). Nil
	// serves none.
	Engine *EngineConfig
}

// FlashPolicy is the cross-domain socket policy sent to Flash clients.
type FlashPolicy struct {
	// Domains are the page domains allowed ("*", "*.example.com"). Zero
	// means "*".
	Domains []string
	// Ports are the ports allowed ("8080", "8000-8100", "*"). Zero means
	// the listener's port.
	Ports string
}

// Transport names for Config.Transports.
const (
	TransportWebSocket = "websocket"
	TransportSSE       = "sse"
	TransportStream    = "stream"
	TransportIframe    = "iframe"
	TransportPoll      = "poll"
)

// Page is an HTTP resource served on the client listener: Body, or when
// Render is set, what it returns. Render runs on the event loop: it must be
// quick and must not block.
type Page struct {
	ContentType string
	Body        []byte
	Render      func() []byte
}

// SlowPolicy says what happens when a client's queued output passes
// Config.MaxOutbound.
type SlowPolicy uint8

const (
	// SlowDisconnect closes the session with 1008 "slow consumer": its
	// queued output is discarded after the close frame.
	SlowDisconnect SlowPolicy = iota
	// SlowDrop drops the message that does not fit and counts it; control
	// frames are never dropped.
	SlowDrop
)

// Defaults for Config.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultPath         = "/ws"
	DefaultMaxFrame     = 1 << 20
	DefaultMaxMessage   = 4 << 20
	DefaultMaxOutbound  = 4 << 20
	DefaultWorkerQueue  = 1024
	DefaultDrainTimeout = 10 * time.Second
	DefaultDrainSpread  = 3 * time.Second
	DefaultReadBuffer   = 64 << 10
	DefaultPollTimeout  = 25 * time.Second
	DefaultPollMaxBytes = 1 << 20
)

// MaxLimit is the largest MaxFrame and MaxMessage: a connection tracks the
// bytes its frame in progress needs in 32 bits (it is in every connection's
// state), and a gigabyte is far beyond any push message.
const MaxLimit = 1 << 30

// withDefaults returns a filled copy of c; the caller's struct is not touched.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	if out.Addr == "" {
		out.Addr = DefaultAddr
	}
	if out.Path == "" {
		out.Path = DefaultPath
	}
	def(&out.Loops, runtime.NumCPU())
	def(&out.MaxHead, codec.DefaultMaxHead)
	def64(&out.MaxFrame, DefaultMaxFrame)
	def64(&out.MaxMessage, DefaultMaxMessage)
	out.MaxFrame = min(out.MaxFrame, MaxLimit)
	out.MaxMessage = min(out.MaxMessage, MaxLimit)
	def(&out.MaxOutbound, DefaultMaxOutbound)
	def(&out.WorkerQueue, DefaultWorkerQueue)
	def(&out.ReadBufferCap, DefaultReadBuffer)
	if out.PollTimeout <= 0 {
		out.PollTimeout = DefaultPollTimeout
	}
	def(&out.PollMaxBytes, DefaultPollMaxBytes)
	out.Transports = append([]string(nil), out.Transports...)
	out.TrustedProxies = append([]netip.Prefix(nil), out.TrustedProxies...)
	if out.ClientAddrHeader == "" {
		out.ClientAddrHeader = HeaderForwardedFor
	}
	out.History.Rules = append([]session.HistoryRule(nil), out.History.Rules...)
	if out.FlashPolicy != nil {
		fp := *out.FlashPolicy
		fp.Domains = append([]string(nil), fp.Domains...)
		out.FlashPolicy = &fp
	}
	if out.DrainTimeout <= 0 {
		out.DrainTimeout = DefaultDrainTimeout
	}
	switch {
	case out.DrainSpread == 0:
		out.DrainSpread = min(DefaultDrainSpread, out.DrainTimeout/2)
	case out.DrainSpread < 0:
		out.DrainSpread = 0
	default:
		out.DrainSpread = min(out.DrainSpread, out.DrainTimeout/2)
	}
	if out.Compression != nil {
		d := out.Compression.WithDefaults()
		out.Compression = &d
	}
	if out.Timing.MaxInflight == 0 {
		out.Timing.MaxInflight = out.MaxOutbound
	}
	out.Protocols = append([]string(nil), out.Protocols...)
	out.AllowedOrigins = append([]string(nil), out.AllowedOrigins...)
	if out.Engine != nil {
		e := *out.Engine
		out.Engine = &e
	}
	if out.Pages != nil {
		out.Pages = maps.Clone(out.Pages)
	}
	return out
}
