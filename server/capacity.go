package server

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/c1mhq/c1m/codec"
)

// The file descriptors the connection cap keeps free below the open-file
// limit for the rest of the process: the loops' listeners, epoll and
// event descriptors, the API's connections (up to -api-max-conns, 128),
// the bus, logs and pprof. Two shares, each at most a quarter of the
// limit: 1/64 of the limit (128 to 4096, and at least 128 beside the
// loops' own descriptors) and 1% (64 to 16,384).
const (
	minSpare, maxSpare        = 128, 4096
	spareShare                = 64
	filesPerLoop              = 3 // listener, epoll, eventfd
	minReserve, maxReserve    = 64, 16384
	reserveShare              = 100
	somaxconnPath             = "/proc/sys/net/core/somaxconn"
	capacityRetryAfterSeconds = 1
)

// capacity is how many connections the server takes and the backlog of
// its loops' listeners.
type capacity struct {
	files     int // the open-file limit
	backlog   int // Config.Backlog, at most somaxconn; 0: as gnet listens (somaxconn), not set again
	somaxconn int // the kernel's, 0 when unknown
	maxConns  int // 0: no cap
}

// capacityFor derives the connection cap of cfg from the open-file limit
// files, and the listen backlog from cfg and the kernel's somaxconn. Every
// connection is a file descriptor, and gnet stops its whole engine when
// accept(2) fails with EMFILE. The loops accept (listen.go), each
// connection over the cap closed in the event that accepted it, so
// connections hold at most the cap and one descriptor per loop, and a
// connection handed to another loop (level.go, at most 16 at once) up to
// three while it is on its way; the cap leaves the reserve above free for
// the other files: 512 at this machine's 20,000 files, 15,096 at
// 1,100,000. The backlog holds no
// descriptor of the process (the kernel's queued connections are not
// accepted yet), so it is somaxconn, as gnet listens, unless
// Config.Backlog lowers it.
func capacityFor(cfg *Config, files, somaxconn int) capacity {
	backlog := max(cfg.Backlog, 0)
	if somaxconn > 0 {
		backlog = min(backlog, somaxconn)
	}
	spare := max(min(max(files/spareShare, minSpare), maxSpare), minSpare+filesPerLoop*cfg.Loops)
	spare = min(spare, files/4)
	reserve := min(max(files/reserveShare, minReserve), maxReserve, files/4)
	auto := max(files-spare-reserve, 1)
	c := capacity{files: files, backlog: backlog, somaxconn: max(somaxconn, 0), maxConns: auto}
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
