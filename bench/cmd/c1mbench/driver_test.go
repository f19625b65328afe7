package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary be its own worker process, as the
// c1mbench binary is: the driver starts os.Executable() with "worker".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := runWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSplit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                  string
		n, capacity, minWorks int
		want                  []int
	}{
		{"fits one", 500, 19900, 1, []int{500}},
		{"forced two", 500, 19900, 2, []int{250, 250}},
		{"over capacity", 45000, 19900, 1, []int{15000, 15000, 15000}},
		{"uneven", 7, 3, 1, []int{3, 2, 2}},
		{"more workers than conns", 2, 100, 4, []int{1, 1}},
		{"nothing", 0, 100, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := split(c.n, c.capacity, c.minWorks)
			if !slices.Equal(got, c.want) {
				t.Fatalf("split(%d, %d, %d) = %v, want %v", c.n, c.capacity, c.minWorks, got, c.want)
			}
			sum := 0
			for _, k := range got {
				sum += k
				if k > c.capacity {
					t.Fatalf("a worker got %d > capacity %d", k, c.capacity)
				}
			}
			if sum != c.n {
				t.Fatalf("counts add up to %d, want %d", sum, c.n)
			}
		})
	}
}

// fakeServer is a trivial WebSocket server: it answers any upgrade with a
// fixed 101 and, on POST /publish, writes the body as one binary frame to
// every client, in accept order. fault can skip or repeat a delivery.
type fakeServer struct {
	ln    net.Listener
	api   *httptest.Server
	fault func(client int, seq uint64) (copies int)

	mu    sync.Mutex // guards the fields below
	conns []net.Conn
}

func newFakeServer(t *testing.T, fault func(client int, seq uint64) int) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, fault: fault}
	go s.accept()
	s.api = httptest.NewServer(http.HandlerFunc(s.publish))
	t.Cleanup(func() {
		s.api.Close()
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			if c != nil {
				c.Close()
			}
		}
	})
	return s
}

func (s *fakeServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					c.Close()
					return
				}
				if line == "\r\n" {
					break
				}
			}
			s.mu.Lock()
			i := len(s.conns)
			s.conns = append(s.conns, c)
			_, err := c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
			s.mu.Unlock()
			if err == nil {
				s.echo(c, br) // until the client goes
			}
			s.mu.Lock()
			s.conns[i] = nil
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// echo reads client frames and sends each data frame's payload back
// unmasked, until a close frame or the end of the connection.
func (s *fakeServer) echo(c net.Conn, br *bufio.Reader) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			return // the tests send nothing that long
		}
		var mask [4]byte
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		for i := range p {
			p[i] ^= mask[i%4]
		}
		switch h[0] & 0x0f {
		case 0x8:
			return
		case 0x1, 0x2:
			frame := append([]byte{0x80 | h[0]&0x0f, byte(len(p))}, p...) // payloads under 126 bytes
			s.mu.Lock()
			_, err := c.Write(frame)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

func (s *fakeServer) publish(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	frame := append([]byte{0x82, byte(len(body))}, body...) // bodies under 126 bytes
	seq := binary.BigEndian.Uint64(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.conns {
		copies := 1
		if s.fault != nil {
			copies = s.fault(i, seq)
		}
		for range copies {
			if c != nil {
				_, _ = c.Write(frame)
			}
		}
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// testRun is a benchRun with the flags' defaults, changed by set.
func testRun(t *testing.T, set func(*options)) *benchRun {
	t.Helper()
	var o options
	declareFlags(flag.NewFlagSet("test", flag.PanicOnError), &o)
	o.interval = 100 * time.Millisecond
	set(&o)
	return &benchRun{o: o, capacity: workerCapacity(o.perWorker)}
}

// TestDriverTwoWorkers runs the driver with two worker processes against
// the fake server and checks that connections, deliveries and loss add up
// across them, and that loss, duplicates and gaps the server causes are
// found.
func TestDriverTwoWorkers(t *testing.T) {
	t.Parallel()
	const n, pubs, bursts, burst = 200, 3, 2, 5
	const total = pubs + bursts*burst
	cases := []struct {
		name                   string
		fault                  func(client int, seq uint64) int
		lossy                  int
		missing, dups, recvOff int64
		timeouts               bool
	}{
		{name: "clean"},
		{
			name: "a client misses publication 2",
			fault: func(c int, seq uint64) int {
				if c == 0 && seq == 2 {
					return 0
				}
				return 1
			},
			lossy: 1, missing: 1, recvOff: -1, timeouts: true,
		},
		{
			name: "a client gets publication 3 twice",
			fault: func(c int, seq uint64) int {
				if c == 5 && seq == 3 {
					return 2
				}
				return 1
			},
			lossy: 1, dups: 1, recvOff: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, c.fault)
			r := testRun(t, func(o *options) {
				o.workers, o.perWorker = 2, n/2
				o.pubs, o.bursts, o.burst = pubs, bursts, burst
				o.deliverTimeout = time.Second
			})
			tg := target{name: "fake", ws: srv.ln.Addr().String(), api: srv.api.Listener.Addr().String(), path: "/ws", publish: "/publish"}
			row, err := r.measure(tg, "fanout", n)
			if err != nil {
				t.Fatal(err)
			}
			if row.Workers != 2 || row.Conns != n || row.Disconnected != 0 {
				t.Fatalf("workers %d conns %d disconnected %d, want 2, %d, 0", row.Workers, row.Conns, row.Disconnected, n)
			}
			if want := int64(n * total); row.Expected != want || row.Received != want+c.recvOff {
				t.Fatalf("received %d expected %d, want %d and %d", row.Received, row.Expected, want+c.recvOff, want)
			}
			if row.LossyClients != c.lossy || row.Missing != c.missing || row.Duplicates != c.dups || row.Reordered != 0 {
				t.Fatalf("lossy %d missing %d dups %d reordered %d, want %d %d %d 0",
					row.LossyClients, row.Missing, row.Duplicates, row.Reordered, c.lossy, c.missing, c.dups)
			}
			if (row.DeliveryTimeouts > 0) != c.timeouts {
				t.Fatalf("%d delivery timeouts", row.DeliveryTimeouts)
			}
			if got, want := row.hist.TotalCount(), int64(n*pubs)+c.recvOff; c.fault == nil && got != want {
				t.Fatalf("singles histogram holds %d deliveries, want %d", got, want)
			}
			if row.DeliveriesPerSec <= 0 || row.BurstPerSec <= 0 || row.Publications != total {
				t.Fatalf("rates %v %v publications %d", row.DeliveriesPerSec, row.BurstPerSec, row.Publications)
			}
		})
	}
}

// TestHoldSplitsOverWorkers: a hold larger than -per-worker runs on
// several workers whose connections add up.
func TestHoldSplitsOverWorkers(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, nil)
	r := testRun(t, func(o *options) { o.perWorker = 40 })
	tg := target{name: "fake", ws: srv.ln.Addr().String(), path: "/ws"}
	row, err := r.measure(tg, "hold", 100)
	if err != nil {
		t.Fatal(err)
	}
	if row.Workers != 3 || row.Conns != 100 || row.Errors != 0 {
		t.Fatalf("workers %d conns %d errors %d, want 3, 100, 0", row.Workers, row.Conns, row.Errors)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.conns) != 100 {
		t.Fatalf("server accepted %d upgrades", len(srv.conns))
	}
}

// TestEchoAndChurnTwoWorkers: echo round trips and churn handshakes are
// counted across two workers, without errors, and every echo is timed.
func TestEchoAndChurnTwoWorkers(t *testing.T) {
	t.Parallel()
	for _, scenario := range []string{"echo", "churn"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, nil)
			r := testRun(t, func(o *options) {
				o.workers, o.duration = 2, 300*time.Millisecond
			})
			tg := target{name: "fake", ws: srv.ln.Addr().String(), path: "/ws"}
			const n = 20
			row, err := r.measure(tg, scenario, n)
			if err != nil {
				t.Fatal(err)
			}
			if row.Conns != n || row.Errors != 0 || row.HandshakeTimeout != 0 {
				t.Fatalf("conns %d errors %d timeouts %d", row.Conns, row.Errors, row.HandshakeTimeout)
			}
			switch scenario {
			case "echo":
				if row.Workers != 2 || row.RoundTripsPerSec <= 0 || row.hist.TotalCount() < int64(n) {
					t.Fatalf("workers %d round trips/s %v timed %d", row.Workers, row.RoundTripsPerSec, row.hist.TotalCount())
				}
			case "churn":
				if row.HandshakesPerSec <= 0 {
					t.Fatalf("handshakes/s %v", row.HandshakesPerSec)
				}
			}
		})
	}
}
