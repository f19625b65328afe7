package broker_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/internal/natstest"
	"github.com/c1mhq/c1m/session"
)

// readyz returns the status and body of a node's /readyz.
func readyz(t *testing.T, n *node) (int, string) {
	t.Helper()
	resp, err := http.Get(n.api + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterNATSRestart: NATS stops while publishers publish through
// the API of two nodes and clients on both read. Meanwhile the clients stay
// connected, /readyz says degraded, and publishing answers 503; once NATS
// is back the nodes relink by themselves, readiness returns, and every
// publication that was answered 200, before, during or after, reached every
// client once, in order.
func TestClusterNATSRestart(t *testing.T) {
	ns := natstest.Start(t)
	nodes := []*node{startNode(t, ns.URL(), "a", nil), startNode(t, ns.URL(), "b", nil)}
	hc := httpClient(t)
	var recs []*recorder
	for _, n := range nodes {
		for range 5 {
			r := newRecorder()
			c := dialWS(t, n.addr, q("topic", "r"))
			go wsClient(c, r)
			<-r.ready
			recs = append(recs, r)
		}
	}

	var mu sync.Mutex
	var ok []uint64
	var refused atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; !stop.Load(); k++ {
			off, err := publishAPI(hc, nodes[k%2].api, "r", fmt.Sprint(k))
			switch {
			case err == nil:
				mu.Lock()
				ok = append(ok, off)
				mu.Unlock()
			case strings.Contains(err.Error(), "503"):
				refused.Add(1)
			default:
				t.Errorf("publish %d: %v", k, err)
				return
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ok) }
	waitFor(t, "publications before the restart", func() bool { return count() >= 20 })

	ns.Stop()
	for _, n := range nodes {
		waitFor(t, "degraded readiness on "+n.id, func() bool {
			code, body := readyz(t, n)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "degraded")
		})
	}
	before := refused.Load()
	waitFor(t, "a publish refused with 503", func() bool { return refused.Load() > before })
	if _, err := publishAPI(hc, nodes[0].api, "r", "down"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("publish while NATS is down: %v, want 503", err)
	}

	ns.Restart()
	for _, n := range nodes {
		waitFor(t, "readiness back on "+n.id, func() bool { code, _ := readyz(t, n); return code == http.StatusOK })
	}
	after := count()
	waitFor(t, "publications after the restart", func() bool { return count() >= after+20 })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	want := slices.Clone(ok)
	mu.Unlock()
	slices.Sort(want)
	for i, r := range recs {
		waitFor(t, fmt.Sprintf("client %d", i), func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.offsets) > 0 && r.offsets[len(r.offsets)-1] >= want[len(want)-1]
		})
		r.mu.Lock()
		got := slices.Clone(r.offsets)
		r.mu.Unlock()
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("client %d: offsets out of order or repeated: %v", i, got)
		}
		for _, off := range want {
			if _, found := slices.BinarySearch(got, off); !found {
				t.Fatalf("client %d: publication %d was answered 200 and never delivered", i, off)
			}
		}
	}
	t.Logf("%d publications answered 200, %d refused with 503 while NATS was down", len(want), refused.Load())
}

// TestClusterHistoryLost: when NATS comes back without its streams (its
// storage lost), the cluster's offsets start again: the node reports it
// through OnLost (the binary then drains and exits) and is not ready, and
// it refuses publications rather than number them in a new sequence under
// the old epoch.
func TestClusterHistoryLost(t *testing.T) {
	ns := natstest.Start(t)
	lost := make(chan error, 1)
	n := startNode(t, ns.URL(), "a", &broker.Config{OnLost: func(err error) { lost <- err }})
	if _, err := n.srv.Hub().Publish("x", []byte("before")); err != nil {
		t.Fatal(err)
	}
	ns.Stop()
	ns.RestartEmpty()
	select {
	case err := <-lost:
		if !errors.Is(err, broker.ErrHistoryLost) {
			t.Fatalf("OnLost(%v), want ErrHistoryLost", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnLost was not called")
	}
	if code, body := readyz(t, n); code != http.StatusServiceUnavailable || !strings.Contains(body, "recreated") {
		t.Fatalf("readyz %d %s, want 503 naming the lost history", code, body)
	}
	if _, err := n.srv.Hub().Publish("x", []byte("after")); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("publish after the history was lost: %v, want ErrUnavailable", err)
	}
}
