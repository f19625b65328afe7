package main

// Before a cluster run: can this machine hold it? The run refuses with a
// message that names the limit, rather than dying halfway with a host
// out of memory or file descriptors.

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Memory a connection costs the machine when both its ends live here, as
// measured by the hold scenario at 19,000 (tuning.md), rounded up: the
// kernel's socket objects (tcp_sock, inode, file, dentry, epoll item) on
// each side, c1m's RSS, and the load generator's RSS.
const (
	estKernelPerSocket = 4 << 10
	estServerPerConn   = 1 << 10
	estClientPerConn   = 2 << 10   // measured 1,765 B at 10,000 per worker
	estPerNode         = 48 << 20  // a c1m process without clients, and its NATS link
	estPerWorker       = 32 << 20  // a load generator process without clients
	estNATS            = 256 << 20 // nats-server with JetStream in memory
	// memHeadroom is the share of MemAvailable the run may plan to use:
	// the machine is shared, and the estimates are averages.
	memHeadroom = 0.8
	// imbalanceSigmas: SO_REUSEPORT picks a node by a hash of each
	// connection's addresses, so a node's count is binomial around the
	// mean; the run plans for the busiest node at this many standard
	// deviations above it.
	imbalanceSigmas = 5
	// minSomaxconn: below it, a node's accept queue overflows in the
	// connect storm and dropped SYNs come back only after a 1 s, 3 s ...
	// retransmission, past the handshake timeout.
	minSomaxconn = 1024
)

// machine is what preflight reads from the host.
type machine struct {
	MemAvailable int64 `json:"mem_available_bytes"`
	FileMax      int64 `json:"file_max"`
	FilesOpen    int64 `json:"files_open"` // allocated system-wide (fs.file-nr)
	PortLo       int64 `json:"port_range_lo"`
	PortHi       int64 `json:"port_range_hi"`
	Somaxconn    int64 `json:"somaxconn"`
	NoFile       int64 `json:"nofile"` // this process's open-file limit, which its children inherit
}

// readMachine reads the host's figures (zero where unreadable).
func readMachine() machine {
	m := machine{MemAvailable: meminfo()["MemAvailable"], NoFile: int64(raiseFileLimit())}
	if v := sysctlInts("fs.file-max"); len(v) == 1 {
		m.FileMax = v[0]
	}
	if v := sysctlInts("fs.file-nr"); len(v) == 3 {
		m.FilesOpen = v[0]
	}
	if v := sysctlInts("net.ipv4.ip_local_port_range"); len(v) == 2 {
		m.PortLo, m.PortHi = v[0], v[1]
	}
	if v := sysctlInts("net.core.somaxconn"); len(v) == 1 {
		m.Somaxconn = v[0]
	}
	return m
}

// nodeCap is how many clients one c1m node takes with nofile open files:
// the limit less its reserve of 1/64 (128 to 4096) and 1% (64 to 16,384),
// as c1m derives server.Config.MaxConns for a node of a few loops (the
// million run's have one; past 61, the loops' own files enlarge the
// first share).
func nodeCap(nofile int64) int64 {
	spare := min(max(nofile/64, 128), 4096, nofile/4)
	reserve := min(max(nofile/100, 64), 16384, nofile/4)
	return nofile - spare - reserve
}

// busiestNode is the clients the busiest of nodes gets, planned at
// imbalanceSigmas above the mean of a hash spread.
func busiestNode(conns, nodes int) int64 {
	mean := float64(conns) / float64(nodes)
	sd := math.Sqrt(mean * (1 - 1/float64(nodes)))
	return int64(math.Ceil(mean + imbalanceSigmas*sd))
}

// autoNodes is the fewest nodes that hold conns with the busiest node
// under its cap.
func autoNodes(conns int, m machine) int {
	limit := nodeCap(m.NoFile)
	for n := 1; n < 10000; n++ {
		if busiestNode(conns, n) <= limit {
			return n
		}
	}
	return 10000
}

// plan is a cluster run's size.
type plan struct {
	conns, nodes, workers, perSource int
}

// memoryNeed is the memory the plan takes, by estimate.
func (p plan) memoryNeed() int64 {
	c := int64(p.conns)
	return c*(2*estKernelPerSocket+estServerPerConn+estClientPerConn) +
		int64(p.nodes)*estPerNode + int64(p.workers)*estPerWorker + estNATS
}

// preflight says why m cannot hold p, every reason at once, or nil.
func preflight(p plan, m machine) error {
	var why []string
	if need := p.memoryNeed(); float64(need) > memHeadroom*float64(m.MemAvailable) {
		why = append(why, fmt.Sprintf("memory: the run needs about %s (per connection: 2 × %s of kernel sockets, %s in c1m, %s in the load generator), more than %.0f%% of the %s available (MemAvailable)",
			gib(need), kib(2*estKernelPerSocket), kib(estServerPerConn), kib(estClientPerConn), 100*memHeadroom, gib(m.MemAvailable)))
	}
	files := int64(2*p.conns) + int64(p.nodes+p.workers)*fileMargin
	if free := m.FileMax - m.FilesOpen; files > free {
		why = append(why, fmt.Sprintf("open files: the run needs about %s (both ends of every connection), %s free of fs.file-max %s: raise fs.file-max",
			number(float64(files)), number(float64(free)), number(float64(m.FileMax))))
	}
	if ports := m.PortHi - m.PortLo + 1; int64(p.perSource)*2 > ports {
		why = append(why, fmt.Sprintf("ephemeral ports: %s per source address is over half of net.ipv4.ip_local_port_range (%d-%d): lower -conns-per-source",
			number(float64(p.perSource)), m.PortLo, m.PortHi))
	}
	if m.Somaxconn < minSomaxconn {
		why = append(why, fmt.Sprintf("net.core.somaxconn %d is under %d: the nodes' accept queues overflow in the connect storm", m.Somaxconn, minSomaxconn))
	}
	if busy, limit := busiestNode(p.conns, p.nodes), nodeCap(m.NoFile); busy > limit {
		why = append(why, fmt.Sprintf("nodes: with %d nodes the busiest may get %s clients (SO_REUSEPORT spreads them by hash), over the %s one node takes with %d open files: use -nodes %d or more",
			p.nodes, number(float64(busy)), number(float64(limit)), m.NoFile, autoNodes(p.conns, m)))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New("this machine cannot hold the run:\n  - " + strings.Join(why, "\n  - "))
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
func kib(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10)) }
