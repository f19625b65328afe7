package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFanoutSideBySide: with -interleave, two servers hold their clients at
// once and take turns publishing (a single each, then a burst each), and
// both rows add up as if each had run alone.
func TestFanoutSideBySide(t *testing.T) {
	t.Parallel()
	const n, pubs, bursts, burst = 100, 3, 2, 2
	var mu sync.Mutex
	var order []string // "server:seq", as the first client of each server gets it
	record := func(name string) func(int, uint64) int {
		return func(client int, seq uint64) int {
			if client == 0 {
				mu.Lock()
				order = append(order, fmt.Sprintf("%s:%d", name, seq))
				mu.Unlock()
			}
			return 1
		}
	}
	a, b := newFakeServer(t, record("a")), newFakeServer(t, record("b"))
	ta, tb := a.wsTarget(), b.wsTarget()
	ta.name, tb.name = "a", "b"
	r := testRun(t, func(o *options) {
		o.workers, o.perWorker = 1, n
		o.pubs, o.bursts, o.burst = pubs, bursts, burst
		o.deliverTimeout = 5 * time.Second
		o.interleave = true
	})
	rows := r.fanoutSideBySide([]target{ta, tb}, "fanout", []int{n, n})
	if len(rows) != 2 || len(r.skipped) != 0 {
		t.Fatalf("%d rows, skipped %v; want 2 and none", len(rows), r.skipped)
	}
	for i, row := range rows {
		want := int64(n * (pubs + bursts*burst))
		if row.Server != []string{"a", "b"}[i] || row.Conns != n || row.Received != want || row.Expected != want || row.DeliveryTimeouts != 0 {
			t.Fatalf("row %d: %s conns %d received %d expected %d timeouts %d; want %d deliveries", i, row.Server, row.Conns, row.Received, row.Expected, row.DeliveryTimeouts, want)
		}
		if row.DeliveriesPerSec <= 0 || row.BurstPerSec <= 0 {
			t.Fatalf("row %d: rates %v %v", i, row.DeliveriesPerSec, row.BurstPerSec)
		}
	}
	want := "a:1 b:1 a:2 b:2 a:3 b:3 a:4 a:5 b:4 b:5 a:6 a:7 b:6 b:7"
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("publications in the order\n%s\nwant\n%s", got, want)
	}
}

// TestFanoutRounds: a second measured phase on the same clients (c1mbench
// cluster's -rounds) numbers its publications from 1 again and is measured
// on its own: a publication the first phase completed does not count as
// complete in the second, so a client missing it there is a delivery
// timeout and a loss of that round only.
func TestFanoutRounds(t *testing.T) {
	t.Parallel()
	const n, pubs = 50, 3
	var round atomic.Int32
	srv := newFakeServer(t, func(client int, seq uint64) int {
		if round.Load() == 2 && client == 0 && seq == 2 {
			return 0
		}
		return 1
	})
	tg := srv.wsTarget()
	r := testRun(t, func(o *options) {
		o.workers, o.perWorker = 1, n
		o.pubs, o.bursts = pubs, 0
		o.deliverTimeout = time.Second
	})
	row := Row{Scenario: "fanout"}
	w, stop, err := r.connect(&row, tg, n)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var rows [2]Row
	for i := range rows {
		round.Store(int32(i + 1))
		rows[i] = row
		if err := r.fanout(&rows[i], w, tg); err != nil {
			t.Fatal(err)
		}
	}
	if r1 := rows[0]; r1.Received != n*pubs || r1.Missing != 0 || r1.DeliveryTimeouts != 0 {
		t.Fatalf("round 1: received %d missing %d timeouts %d; want %d, 0, 0", r1.Received, r1.Missing, r1.DeliveryTimeouts, n*pubs)
	}
	if r2 := rows[1]; r2.Received != n*pubs-1 || r2.Missing != 1 || r2.LossyClients != 1 || r2.DeliveryTimeouts != 1 {
		t.Fatalf("round 2: received %d missing %d lossy %d timeouts %d; want %d, 1, 1, 1", r2.Received, r2.Missing, r2.LossyClients, r2.DeliveryTimeouts, n*pubs-1)
	}
}
