package main

// Whole-machine memory readings for the cluster runs: /proc/meminfo,
// every cache of /proc/slabinfo, the TCP line of /proc/net/sockstat, and
// the sysctls a million connections need.

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
)

// meminfo reads /proc/meminfo in bytes, by field (MemAvailable, Slab,
// SUnreclaim, ...); nil when it cannot be read.
func meminfo() map[string]int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v <<= 10
		}
		out[name] = v
	}
	return out
}

// slabBytes reads every cache of /proc/slabinfo (root only): bytes held
// by its active objects; nil when it cannot be read.
func slabBytes() map[string]int64 {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || strings.HasPrefix(fields[0], "#") || fields[0] == "slabinfo" {
			continue
		}
		objs, err1 := strconv.ParseInt(fields[1], 10, 64) // active objects
		size, err2 := strconv.ParseInt(fields[3], 10, 64)
		if err1 == nil && err2 == nil {
			out[fields[0]] += objs * size
		}
	}
	return out
}

// slabGrowth is the caches that grew by at least minBytes between two
// slabBytes readings, largest first.
type slabDelta struct {
	Cache string `json:"cache"`
	Bytes int64  `json:"bytes"`
}

func slabGrowth(before, after map[string]int64, minBytes int64) []slabDelta {
	var out []slabDelta
	for name, b := range after {
		if d := b - before[name]; d >= minBytes {
			out = append(out, slabDelta{name, d})
		}
	}
	slices.SortFunc(out, func(a, b slabDelta) int { return int(b.Bytes - a.Bytes) })
	return out
}

// tcpSockstat reads the TCP line of /proc/net/sockstat: sockets in use and
// the pages their buffers hold (mem, in pages of the system's page size).
func tcpSockstat() (inuse, memBytes int64) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "TCP: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "inuse":
				inuse = v
			case "mem":
				memBytes = v * int64(os.Getpagesize())
			}
		}
	}
	return inuse, memBytes
}

// sysctlInts reads a /proc/sys file of whitespace-separated integers.
func sysctlInts(name string) []int64 {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return nil
	}
	var out []int64
	for _, f := range strings.Fields(string(b)) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// totalRSS sums the resident set sizes of pids.
func totalRSS(pids []int) int64 {
	var t int64
	for _, p := range pids {
		t += rssBytes(p)
	}
	return t
}
