package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
	"github.com/c1mhq/c1m/session"
)

// Server is a c1m WebSocket server on a gnet engine.
type Server struct {
	cfg      Config
	handler  Handler
	limits   codec.Limits
	deflater *codec.Deflater
	encoders [numForms]func(*session.Publication) []byte
	hub      session.Hub
	workers  *workers
	log      *slog.Logger
	eio      *eioEngine   // Config.Engine, nil without Engine.IO (eio_*.go)
	eioHops  atomic.Int64 // Engine.IO tasks that crossed to another loop (tests read it)
	eioHeld  atomic.Int64 // Engine.IO polls held by their sessions

	start      time.Time
	eng        gnet.Engine
	addr       atomic.Pointer[net.TCPAddr]
	booted     chan struct{}
	done       chan struct{}
	serveErr   error
	gnetErrs   gnetErrors // the last errors gnet logged (log.go)
	bootErr    error      // why OnBoot, or the first OnTick (listen), stopped the engine
	draining   atomic.Bool
	capacity   capacity                  // set by Serve
	perIP      *ipLimiter                // Config.MaxConnsPerIP, nil without a limit (iplimit.go)
	handshakes *handshakeLimiter         // Config.HandshakeRate, nil without a limit (handshakerate.go)
	perUser    *countLimiter[string]     // Config.MaxConnsPerUser, nil without a limit (userlimit.go)
	perPoll    *countLimiter[netip.Addr] // Config.MaxPollsPerIP, nil without a limit (userlimit.go)
	stopOnce   sync.Once
	// The listening sockets (listen.go): keeper holds a port 0 resolved
	// by run until OnBoot (-1: none); bound is the first loop's address,
	// from OnBoot; listening is set by the first OnTick, once every loop
	// has bound its listener. reactorAccept (tests) accepts on gnet's
	// main reactor instead of the loops.
	keeper        int
	bound         *net.TCPAddr
	listening     bool
	reactorAccept bool
	handovers     atomic.Int64 // connections handed to another loop, on their way (level.go)

	// phase is phaseNew, phaseStarted or phaseShutEarly (start.go): a
	// Server runs once.
	phase atomic.Int32

	// drainHook, when set (by tests, before Start), sees each drain batch on
	// the shard's loop: the shard's index, the batch and how many sessions
	// it closed.
	drainHook func(shard, batch, closed int)
}

// engine is the Server as gnet sees it: gnet's callbacks (OnBoot, OnOpen,
// OnTraffic, OnClose, OnTick, OnShutdown) are engine's methods, so that they
// are not part of *Server's API. It embeds the *Server, whose fields and
// methods the callbacks use as their own.
type engine struct{ *Server }

var _ gnet.EventHandler = engine{}

// shard is the server's per-loop state around a session.Shard: the
// handshaker (its gobwas callbacks must not be shared between loops) and the
// loop to run tasks on. It is the shard's Executor.
type shard struct {
	*session.Shard
	srv        *Server
	loop       gnet.EventLoop
	handshaker *codec.Handshaker
	deflater   *codec.Deflater
	held       map[*conn]func()      // events of paused connections (pause.go)
	eioPolling atomic.Int64          // Engine.IO sessions on long-polling (eio_session.go)
	eioWS      atomic.Int64          // Engine.IO sessions on WebSocket
	perIP      map[*conn]netip.Addr  // client address of connections holding a Config.MaxConnsPerIP slot (iplimit.go)
	userSlots  map[*conn]string      // user of connections holding a Config.MaxConnsPerUser slot (userlimit.go)
	pollSlots  map[*conn]netip.Addr  // client address of polls holding a Config.MaxPollsPerIP slot (userlimit.go)
	eioSlots   map[uint64]eioSlots   // the slots Engine.IO polling sessions hold, by session id (eio_limits.go)
	eioPosts   map[uint64]*eioWaiter // the post an Engine.IO polling session is taking, by session id, while it is (eio_poll.go)
	incoming   atomic.Int64          // connections handed over to this loop, on their way (level.go)
}

// Execute implements session.Executor on the shard's loop.
func (sh *shard) Execute(fn func()) error {
	return sh.loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	}))
}

// New returns a server for h (nil means BuiltinHandler) with cfg (nil means
// defaults; cfg is copied). Serve or Start runs it. Safe for concurrent use.
func New(h Handler, cfg *Config) *Server {
	if h == nil {
		h = BuiltinHandler{}
	}
	c := cfg.withDefaults()
	if _, taken := c.Pages[poller.PathClient]; !taken { // c1m.js, unless the embedder serves its own
		if c.Pages == nil {
			c.Pages = map[string]Page{}
		}
		c.Pages[poller.PathClient] = Page{ContentType: poller.ClientContentType, Body: poller.ClientJS} // c.Pages is a copy
	}
	s := &Server{
		cfg:        c,
		handler:    h,
		limits:     codec.Limits{MaxFrame: c.MaxFrame, MaxMessage: c.MaxMessage},
		log:        slog.Default(),
		booted:     make(chan struct{}),
		done:       make(chan struct{}),
		perIP:      newIPLimiter(c.MaxConnsPerIP),
		handshakes: newHandshakeLimiter(c.HandshakeRate, c.HandshakeBurst),
		perUser:    newCountLimiter[string](c.MaxConnsPerUser),
		perPoll:    newCountLimiter[netip.Addr](c.MaxPollsPerIP),
	}
	s.eio = newEngine(c.Engine, &c)
	if c.Compression != nil {
		s.deflater = codec.NewDeflater(c.Compression.Level)
	}
	minSize := 0
	if c.Compression != nil {
		minSize = c.Compression.MinSize
	}
	s.encoders = newEncoders(s.deflater, minSize)
	if e := s.eio; e != nil {
		s.encoders[formEIORecord] = e.record
		s.encoders[formEIOFrame] = func(p *session.Publication) []byte {
			return codec.AppendEIOFrames(nil, p.Encoded(formEIORecord, e.record))
		}
	}
	s.hub.SetHistory(c.History)
	s.hub.SetInbound(s.inboundSend)
	if c.Workers > 0 {
		s.workers = newWorkers(c.Workers, c.WorkerQueue)
	}
	return s
}

// Serve runs the server until Shutdown and returns ErrServerClosed then, or
// the error that stopped it. It blocks the calling goroutine, which may be
// any; call Serve or Start once per Server: again, they return
// ErrAlreadyStarted, and after a Shutdown that came first, ErrServerClosed.
func (s *Server) Serve() error {
	if err := s.begin(); err != nil {
		return err
	}
	return s.serve()
}

// serve is Serve, once per Server.
func (s *Server) serve() error {
	s.start = time.Now()
	s.capacity = processCapacity(&s.cfg)
	err := s.run()
	if s.workers != nil {
		s.workers.stop()
	}
	switch {
	case err == nil && s.bootErr != nil:
		err = s.bootErr // OnBoot stopped the engine, which gnet reports as nil
	case err == nil && s.draining.Load():
		err = ErrServerClosed
	case err == nil:
		// Neither Shutdown nor OnBoot stopped it: the engine died by
		// itself, and said why only to its logger.
		why := s.gnetErrs.String()
		if why == "" {
			why = "no reason given"
		}
		err = fmt.Errorf("%w: %s", ErrEngineStopped, why)
	}
	s.serveErr = err
	close(s.done)
	select {
	case <-s.booted:
	default:
		close(s.booted) // boot failed: release Start's waiters
	}
	return err
}

// run runs the gnet engine until it stops, accepting on its loops
// (listen.go).
func (s *Server) run() error {
	addr := s.cfg.Addr
	s.keeper = -1
	if !s.reactorAccept {
		a, keeper, err := claimPort(addr, s.cfg.ReusePort)
		if err != nil {
			return err
		}
		addr, s.keeper = a, keeper
		defer s.closeKeeper()
	}
	return gnet.Run(engine{s}, "tcp://"+addr,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithLockOSThread(true), // Session.Send tells the loop by its thread
		// A listening socket per loop, each loop accepting for itself;
		// other processes may join the port only with Config.ReusePort
		// (claimPort).
		gnet.WithReusePort(!s.reactorAccept),
		// A restarted server binds its port again at once, whatever
		// connections of the last one linger in TIME_WAIT.
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(s.cfg.ReadBufferCap),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{log: s.log.With("component", "gnet"), errs: &s.gnetErrs}),
	)
}

// closeKeeper closes the socket that held a port 0 until gnet bound it.
// On the goroutine of Serve (OnBoot runs on it).
func (s *Server) closeKeeper() {
	if s.keeper >= 0 {
		_ = unix.Close(s.keeper)
		s.keeper = -1
	}
}

// Start runs Serve in a goroutine and returns once the server listens, or
// with the error that kept it from starting. Call it from any goroutine,
// once per Server and instead of Serve (again, it returns
// ErrAlreadyStarted); Shutdown may run concurrently.
func (s *Server) Start() error {
	if err := s.begin(); err != nil {
		return err
	}
	go func() { _ = s.serve() }()
	select {
	case <-s.booted:
		if s.Addr() == nil {
			<-s.done
			return s.serveErr
		}
		return nil
	case <-s.done:
		return s.serveErr
	}
}

// Done returns a channel that is closed when the server has stopped, by
// Shutdown or by itself; Err then says why. Safe for concurrent use.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped (what Serve returned) once Done is
// closed, and nil before. Safe for concurrent use.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.serveErr
	default:
		return nil
	}
}

// Addr returns the address the server listens on, or nil before it does.
// Safe for concurrent use.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return a
	}
	return nil
}

// Hub returns the server's hub, to publish to topics, broadcast and send to
// sessions and users from any goroutine. It is the server's own hub,
// converted in place: the call allocates nothing. Safe for concurrent use.
func (s *Server) Hub() *Hub { return (*Hub)(&s.hub) }

// Connections returns the number of open connections. Safe for concurrent use.
func (s *Server) Connections() int {
	return s.sumGauge(func(st *session.Stats) *atomic.Int64 { return &st.Connections })
}

// sumGauge adds up one gauge of every shard's counters, without the
// allocation of Hub.Totals (Shutdown polls it). Safe for concurrent use.
func (s *Server) sumGauge(gauge func(*session.Stats) *atomic.Int64) int {
	n := int64(0)
	for _, sh := range s.hub.Shards() {
		n += gauge(sh.Stats()).Load()
	}
	return int(n)
}

// OnBoot records the engine and the first loop's address. The listeners
// of the other loops are bound after it returns: the first OnTick
// finishes the setup (listen).
func (s engine) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	a, err := boundAddr(eng)
	s.closeKeeper() // the first loop's listener holds the port now
	if err != nil {
		s.bootErr = fmt.Errorf("c1m: setting up the listener: %w", err)
		return gnet.Shutdown
	}
	s.bound = a
	return gnet.None
}

// listen runs on the first OnTick, once gnet has bound every loop's
// listener: it sets their backlog when Config.Backlog asks for one, and
// then the server listens (Addr, Start).
func (s engine) listen() gnet.Action {
	s.listening = true
	backlog := s.capacity.somaxconn // as gnet listens
	if b := s.capacity.backlog; b > 0 {
		if err := setBacklog(s.bound, b); err != nil {
			s.bootErr = fmt.Errorf("c1m: setting the listen backlog: %w", err)
			return gnet.Shutdown
		}
		backlog = b
	}
	s.addr.Store(s.bound)
	s.log.Info("listening", "addr", s.bound.String(), "loops", s.cfg.Loops, "path", s.cfg.Path,
		"max_conns", s.capacity.maxConns, "open_files", s.capacity.files, "backlog", backlog,
		"reuse_port", s.cfg.ReusePort)
	close(s.booted)
	return gnet.None
}

// shardOf returns the shard of c's loop, creating it on the loop's first
// connection. Loop-only.
func (s *Server) shardOf(c gnet.Conn) *shard {
	loop := c.EventLoop()
	ss := s.hub.Lookup(loop, func(index int) *session.Shard {
		sh := &shard{srv: s, loop: loop, deflater: s.deflater}
		sh.handshaker = codec.NewHandshaker(codec.HandshakeConfig{
			Protocols: s.cfg.Protocols,
			Deflate:   s.cfg.Compression,
			MaxHead:   s.cfg.MaxHead,
		})
		sh.Shard = session.NewShard(index, loop, sh, s.cfg.Timing)
		sh.Shard.BindThread()
		sh.Shard.Advance(s.tick(sh.Shard))
		return sh.Shard
	})
	return ss.Executor().(*shard)
}

// tick returns the current tick of the shard's clock.
func (s *Server) tick(sh *session.Shard) int64 {
	return int64(time.Since(s.start)/sh.TickDuration()) + 1
}

// OnOpen attaches the connection's state and starts its handshake deadline.
// While the server drains, connections are still accepted: their request
// gets 503 (readHead).
func (s engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	sh := s.shardOf(gc)
	h, handed := gc.Context().(*handover)
	if handed {
		// Off the handovers' counts before it is counted here: until
		// then its loop looks lighter, which at worst hands it one
		// connection more (level.go).
		gc.SetContext(nil)
		h.end(s.Server, true)
	}
	// Handovers on their way hold descriptors too.
	if limit := s.capacity.maxConns; limit > 0 && s.Connections()+int(s.handovers.Load()) >= limit {
		// Answered before the request is read, and closed at once: the
		// descriptor is free again before the next accept.
		sh.Stats().Evicted(session.ReasonOverCapacity)
		if s.eio != nil {
			return overCapacityEIO, gnet.Close
		}
		return overCapacity, gnet.Close
	}
	if !handed {
		if to := s.levelTo(sh); to != nil && s.handOver(gc, sh, to) == nil {
			return nil, gnet.Close // open on the lighter loop (level.go)
		}
	}
	c := &conn{sh: sh, c: gc}
	sh.Open(&c.Session, c)
	gc.SetContext(c)
	return nil, gnet.None
}

// OnClose reports the end of an opened session and releases its state.
func (s engine) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	gc.SetContext(nil)
	s.eioConnClosed(c)
	opened := c.State() == session.StateOpen || c.State() == session.StateClosing
	if c.eio != eioNone {
		s.eioDirectEnded(c)
	} else if opened {
		code, reason := codec.StatusAbnormalClosure, ""
		if c.ext != nil && c.ext.peer != nil {
			code, reason = c.ext.peer.code, c.ext.peer.reason
		}
		s.dispatchClose(c, code, reason)
	}
	s.releaseSlots(c)
	c.sh.Closed(&c.Session)
	c.dec.Release()
	c.dropOutput()
	// The handler may have written to other sessions (OnClose of a peer
	// that reset runs outside OnTraffic, which would flush them).
	c.sh.Flush()
	return gnet.None
}

// OnTraffic drives the connection: first its request head, then its frames,
// in the same callback when they arrive together. Everything the callback
// queued, for this and other sessions of the loop, leaves at the end in one
// write per socket.
func (s engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	c.sh.IOStarted()
	c = s.readRequests(c)
	if l := c.link(); l != nil {
		s.readLink(c, l)
	} else if st := c.State(); (st == session.StateOpen || st == session.StateClosing) && !c.failed {
		switch {
		case c.eio != eioNone:
			s.readEIO(c)
		case c.transport() == nil:
			s.readFrames(c)
		default:
			s.holdInput(c)
		}
	}
	if c.failed {
		// Answered or failed: nothing more is parsed, and what arrives is
		// dropped so that it neither piles up nor is parsed again.
		_, _ = gc.Discard(-1)
		c.shutdownWrite()
	}
	c.sh.Flush()
	return gnet.None
}

// OnShutdown runs when the engine stops, before its loops end (gnet calls it
// first): every shard stops taking tasks, so that nothing is queued for a
// loop that will not run it and Session.Send from another goroutine fails
// instead of queuing. gnet calls it from the goroutine that stops the
// engine; it only calls Shard.Stop, which is Safe for concurrent use.
func (s engine) OnShutdown(gnet.Engine) {
	for _, sh := range s.hub.Shards() {
		sh.Stop()
	}
}

// OnTick runs on gnet's ticker goroutine: the first one finishes the
// listeners' setup (listen); each posts a tick to each shard's inbox,
// where the timing wheel runs on the loop.
func (s engine) OnTick() (time.Duration, gnet.Action) {
	if !s.listening {
		if a := s.listen(); a != gnet.None {
			return 0, a
		}
	}
	tick := s.cfg.Timing.Tick
	if tick <= 0 {
		tick = session.DefaultTick
	}
	s.hub.Sweep(time.Now())
	for _, sh := range s.hub.Shards() {
		now, posted := s.tick(sh), time.Now()
		_ = sh.Post(func() {
			sh.Stats().LoopLag.Store(int64(time.Since(posted)))
			sh.Advance(now)
		})
	}
	return tick, gnet.None
}
