package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFailedJudged: a round that failed is counted at capacity on a 503,
// cut short when the end of the load ended it, and a problem otherwise,
// a dial that timed out included.
func TestFailedJudged(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Timeout: time.Nanosecond} // expires before the SYN-ACK
	nc, timedOut := d.Dial("tcp", ln.Addr().String())
	if timedOut == nil {
		nc.Close()
		t.Fatal("the dial did not time out")
	}
	var op *net.OpError
	if !errors.As(timedOut, &op) || !op.Timeout() {
		t.Fatalf("%v is not a dial timeout", timedOut)
	}
	ended, end := context.WithCancel(context.Background())
	end()
	for _, tc := range []struct {
		name                string
		ctx                 context.Context
		err                 error
		unexpected, cut, at int64
	}{
		{"dial timed out during the load", context.Background(), timedOut, 1, 0, 0},
		{"dial timed out as the load ended", ended, timedOut, 0, 1, 0},
		{"503 at the cap", context.Background(), errAtCapacity, 0, 0, 1},
		{"503 as the load ended", ended, errAtCapacity, 0, 1, 0},
	} {
		var a abuseCounts
		a.failed(tc.ctx, "bad request", tc.err)
		if u, c, at := a.Unexpected.Load(), a.Cut.Load(), a.AtCapacity.Load(); u != tc.unexpected || c != tc.cut || at != tc.at {
			t.Errorf("%s: unexpected %d, cut %d, at capacity %d; want %d, %d, %d", tc.name, u, c, at, tc.unexpected, tc.cut, tc.at)
		}
		if p, _ := a.lastProblem.Load().(string); tc.unexpected > 0 && !strings.Contains(p, "bad request: ") {
			t.Errorf("%s: last problem %q does not name the round", tc.name, p)
		}
	}
}
