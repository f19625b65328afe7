package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// raiseFileLimit lifts the soft open-file limit to the hard one.
func raiseFileLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	rl.Cur = rl.Max
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// socketSlabs are the kernel caches an established TCP socket uses: the
// socket itself, its inode and file, its dentry and its epoll item.
var socketSlabs = map[string]bool{
	"TCP": true, "sock_inode_cache": true, "filp": true, "dentry": true, "eventpoll_epi": true, "eventpoll_pwq": true,
}

// kernelSocketBytes sums the memory of socketSlabs from /proc/slabinfo
// (readable by root), 0 when it cannot be read.
func kernelSocketBytes() int64 {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !socketSlabs[fields[0]] {
			continue
		}
		objs, _ := strconv.ParseInt(fields[2], 10, 64)
		size, _ := strconv.ParseInt(fields[3], 10, 64)
		total += objs * size
	}
	return total
}

// clockTicks is the unit of utime and stime in /proc/PID/stat
// (sysconf(_SC_CLK_TCK), 100 on Linux).
const clockTicks = 100

// processCPU is a process's user+system CPU seconds from /proc (0 when
// pid is 0 or unreadable).
func processCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(ut+st) / clockTicks
}

// alive reports whether process pid is running (not gone, not a zombie
// waiting to be reaped). pid 0 (a server in this process) is alive.
func alive(pid int) bool {
	if pid <= 0 {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
