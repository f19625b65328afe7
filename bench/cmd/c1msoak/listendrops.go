package main

// The kernel's listen-queue counters. A connection the listener's queue
// could not take (backlog full at a churn peak) loses its SYN or its
// final ACK there, before the server sees it: the client retransmits
// after 1 s, then 3 s. The soak reports how many over its load, so that
// a dial that waited long has a count beside it.

import (
	"os"
	"strconv"
	"strings"
)

// listenDrops reads the kernel's counts of connections a listener's
// queue could not take (TcpExt ListenOverflows and ListenDrops, for the
// whole machine, not only the server's listeners).
func listenDrops() (overflows, drops int64) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0, 0
	}
	return parseListenDrops(string(b))
}

// parseListenDrops reads ListenOverflows and ListenDrops from the text of
// /proc/net/netstat: a line of TcpExt names, then one of their values.
func parseListenDrops(netstat string) (overflows, drops int64) {
	lines := strings.Split(netstat, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok1 := strings.CutPrefix(lines[i], "TcpExt:")
		values, ok2 := strings.CutPrefix(lines[i+1], "TcpExt:")
		if !ok1 || !ok2 {
			continue
		}
		ns, vs := strings.Fields(names), strings.Fields(values)
		for j := range min(len(ns), len(vs)) {
			v, _ := strconv.ParseInt(vs[j], 10, 64)
			switch ns[j] {
			case "ListenOverflows":
				overflows = v
			case "ListenDrops":
				drops = v
			}
		}
		return overflows, drops
	}
	return 0, 0
}
