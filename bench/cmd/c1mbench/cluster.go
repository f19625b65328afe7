package main

// Many c1m nodes on one host: a NATS server and N c1m processes sharing
// one client port with SO_REUSEPORT (c1m -reuse-port), each with its own
// API port. Every process the cluster starts lives in one process group,
// led by the NATS server, so that one kill(-pgid) ends them all, whatever
// happened to the driver's bookkeeping; each also gets SIGKILL when the
// driver dies (Pdeathsig).

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// natsVersion is the nats-server the cluster runs, built from its Go module
// (the Go module proxy serves it) into natsCache.
const natsVersion = "v2.15.2"

// natsCache is where nats-server is installed: built once, then reused.
func natsCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "c1m", "nats-server-"+natsVersion)
}

// buildNATS installs nats-server natsVersion into natsCache unless it is
// there already, and returns its path.
func buildNATS() (string, error) {
	dir := natsCache()
	bin := filepath.Join(dir, "nats-server")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/nats-io/nats-server/v2@"+natsVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir() // outside any module: go install PKG@VERSION
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install nats-server@%s: %v\n%s", natsVersion, err, out)
	}
	return bin, nil
}

// procGroup is the set of processes a cluster run started, in one process
// group.
type procGroup struct {
	mu    sync.Mutex // guards the fields below
	pgid  int        // 0 until the first process starts
	procs []*exec.Cmd
	done  map[*exec.Cmd]chan struct{}
}

// start starts cmd in the group (the first one leads it).
func (g *procGroup) start(cmd *exec.Cmd) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	if g.pgid == 0 {
		g.pgid = cmd.Process.Pid
	}
	if g.done == nil {
		g.done = map[*exec.Cmd]chan struct{}{}
	}
	d := make(chan struct{})
	g.done[cmd] = d
	g.procs = append(g.procs, cmd)
	go func() { _ = cmd.Wait(); close(d) }()
	return nil
}

// exited is closed when cmd (started by g) has exited and been reaped.
func (g *procGroup) exited(cmd *exec.Cmd) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done[cmd]
}

// killAll sends SIGKILL to the whole group and waits (bounded) until every
// process it started has been reaped. Safe to call more than once.
func (g *procGroup) killAll() {
	g.mu.Lock()
	pgid, procs := g.pgid, g.procs
	g.mu.Unlock()
	if pgid != 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	for _, p := range procs {
		_ = p.Process.Kill() // one that left the group meanwhile
	}
	deadline := time.After(killWait)
	for _, p := range procs {
		select {
		case <-g.exited(p):
		case <-deadline:
			return
		}
	}
	// Their own children (none of ours fork, but a wrapper script would)
	// are in the group too: wait until the group is gone.
	for pgid != 0 && syscall.Kill(-pgid, 0) == nil {
		select {
		case <-deadline:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// killWait bounds how long killAll waits for the killed processes: a
// process holding 20,000 sockets takes a moment to be torn down.
const killWait = 60 * time.Second

// clusterOptions configure a cluster of c1m nodes on this host.
type clusterOptions struct {
	nodes, loops int           // loops 0: c1m's default, one per CPU
	nats         bool          // start NATS and join the nodes to it
	ping         time.Duration // the nodes' -ping
	extra        []string      // more c1m flags
}

// node is a running c1m process of a cluster.
type node struct {
	cmd *exec.Cmd
	api string
}

// cluster is a running set of nodes sharing one client port, and the NATS
// server that links them.
type cluster struct {
	group    *procGroup
	ws       string // the shared client address
	nodes    []node
	natsCmd  *exec.Cmd
	natsURL  string
	natsMon  string // host:port of the NATS monitoring endpoint
	natsDir  string // its JetStream store
	reserved int    // the descriptor that holds the shared port
}

// reserveReusePort binds (without listening) a socket with SO_REUSEPORT to
// a free loopback port: processes that bind the same port with
// SO_REUSEPORT join it, nobody else can take it meanwhile, and a socket
// that does not listen gets no connection.
func reserveReusePort() (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(fd)
	}
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

// startCluster starts NATS (when o.nats) and o.nodes c1m nodes from the
// binary c1mBin, and waits until every one listens. On error, whatever it
// started is killed.
func startCluster(c1mBin string, o clusterOptions) (_ *cluster, err error) {
	c := &cluster{group: &procGroup{}, reserved: -1}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	fd, port, err := reserveReusePort()
	if err != nil {
		return nil, fmt.Errorf("reserve a client port: %w", err)
	}
	c.reserved, c.ws = fd, "127.0.0.1:"+strconv.Itoa(port)
	if o.nats {
		if err := c.startNATS(); err != nil {
			return nil, err
		}
	}
	for i := range o.nodes {
		api := freePort()
		args := []string{
			"-listen", c.ws, "-reuse-port", "-api", api, "-log-level", "warn", "-demo=false", "-compression=false",
		}
		if o.loops > 0 {
			args = append(args, "-loops", strconv.Itoa(o.loops))
		}
		if o.ping != 0 {
			args = append(args, "-ping", o.ping.String())
		}
		if c.natsURL != "" {
			args = append(args, "-nats", c.natsURL, "-nats-memory")
		}
		args = append(args, o.extra...)
		cmd := exec.Command(c1mBin, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "C1M_NODE_ID=node-"+strconv.Itoa(i)) // -node-id, where the binary has it
		if err := c.group.start(cmd); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		c.nodes = append(c.nodes, node{cmd: cmd, api: api})
	}
	for i, n := range c.nodes {
		if err := waitListen(n.api, c.group.exited(n.cmd)); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
	}
	return c, nil
}

// startNATS starts nats-server with JetStream (the broker keeps offsets
// and history there) and its monitoring endpoint (/varz: the bus cost).
func (c *cluster) startNATS() error {
	bin, err := buildNATS()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "c1mbench-nats")
	if err != nil {
		return err
	}
	c.natsDir = dir
	addr, mon := freePort(), freePort()
	host, port, _ := net.SplitHostPort(addr)
	_, mport, _ := net.SplitHostPort(mon)
	cmd := exec.Command(bin, "-a", host, "-p", port, "-m", mport, "-js", "-sd", dir)
	// Its banner and notices would drown the progress lines: errors only
	// reach the run through the nodes (which refuse to start without it).
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := c.group.start(cmd); err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	c.natsCmd, c.natsURL, c.natsMon = cmd, "nats://"+addr, mon
	return waitListen(addr, c.group.exited(cmd))
}

// listenWait bounds a process's start until it listens.
const listenWait = 60 * time.Second

// waitListen waits until addr accepts a TCP connection, the process exits
// (exited closes) or listenWait passes.
func waitListen(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(listenWait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it listened on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not listen on %s within %v", addr, listenWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pids returns the nodes' process ids.
func (c *cluster) pids() []int {
	out := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.cmd.Process.Pid
	}
	return out
}

// stop kills every process of the cluster and removes the NATS store.
func (c *cluster) stop() {
	c.group.killAll()
	if c.reserved >= 0 {
		unix.Close(c.reserved)
		c.reserved = -1
	}
	if c.natsDir != "" {
		_ = os.RemoveAll(c.natsDir)
	}
}
