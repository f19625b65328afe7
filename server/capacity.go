package server

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
)

// Bounds of the defaults of Config.Backlog and of the file descriptors
// kept for the rest of the process (epoll and event fds of the loops, the
// API listener and its connections, logs, pprof).
const (
	minBacklog, maxBacklog    = 128, 4096
	backlogShare              = 64 // the default backlog is 1/64 of the open-file limit
	minReserve, maxReserve    = 64, 16384
	reserveShare              = 100 // the reserve is 1% of the open-file limit
	somaxconnPath             = "/proc/sys/net/core/somaxconn"
	capacityRetryAfterSeconds = 1
)

// capacity is how many connections the server takes and the listen
// backlog that goes with it.
type capacity struct {
	files    int // the open-file limit
	backlog  int
	reserve  int // descriptors kept free below the limit besides the backlog
	maxConns int // 0: no cap
}

// capacityFor derives the backlog and the connection cap of cfg from the
// open-file limit files: every connection is a file descriptor, and gnet
// stops its whole engine when accept(2) fails with EMFILE. The loops
// accept (listen.go), each connection over the cap closed in the event
// that accepted it, so connections hold at most the cap and one
// descriptor per loop; the cap leaves a backlog's worth and a reserve of
// 1% of the limit free below it, for the files that are not connections:
// the loops' epoll and event descriptors, the listeners, the API and its
// connections, the bus, logs and pprof (512 at this machine's 20,000
// files, 11,000 at 1,100,000).
func capacityFor(cfg *Config, files, somaxconn int) capacity {
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = min(max(files/backlogShare, minBacklog), maxBacklog)
	}
	if somaxconn > 0 {
		backlog = min(backlog, somaxconn)
	}
	reserve := min(max(files/reserveShare, minReserve), maxReserve)
	// A tiny limit (tests, a misconfigured host) still leaves half of it
	// for connections.
	backlog = min(backlog, files/4)
	reserve = min(reserve, files/4)
	auto := max(files-backlog-reserve, 1)
	c := capacity{files: files, backlog: max(backlog, 1), reserve: reserve, maxConns: auto}
	if cfg.MaxConns > 0 {
		c.maxConns = min(cfg.MaxConns, auto)
	}
	return c
}

// processCapacity reads the open-file limit and somaxconn of this process
// and host.
func processCapacity(cfg *Config) capacity {
	files := 1 << 20
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(files) {
		files = int(rl.Cur)
	}
	somaxconn := 0
	if b, err := os.ReadFile(somaxconnPath); err == nil {
		somaxconn, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return capacityFor(cfg, files, somaxconn)
}

// capacityRetryAfter is the Retry-After line of the answers over MaxConns.
var capacityRetryAfter = "Retry-After: " + strconv.Itoa(capacityRetryAfterSeconds) + "\r\n"

// overCapacity is the answer to a connection over MaxConns, written before
// its request is read.
var overCapacity = codec.AppendResponse(nil, http.StatusServiceUnavailable,
	capacityRetryAfter, codec.EIOAtCapacity.Message()+"\n")

// overCapacityEIO is overCapacity in Engine.IO's JSON shape, the answer of
// a server that serves Engine.IO (Config.Engine). The cap is met before
// the request is read, so the server cannot tell an Engine.IO request
// from another: it answers all in the shape that Engine.IO clients read,
// and the other clients go by the status, which is the same.
var overCapacityEIO = func() []byte {
	body := codec.AppendEIOError(nil, codec.EIOAtCapacity, "")
	head := codec.ResponseHead{Status: http.StatusServiceUnavailable, ContentType: eioErrorJSON,
		Length: len(body), Close: true, Extra: capacityRetryAfter}
	return append(head.AppendHead(nil), body...)
}()
