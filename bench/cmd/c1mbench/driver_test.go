package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
// fixed 101 and, on POST /publish, writes the body as one frame to every
// client, in accept order. fault can skip or repeat a delivery.
//
// With centrifugo set it speaks what the bench needs of Centrifugo's
// JSON protocol: it answers connect and subscribe commands (the
// subscribe reply shares its frame with a {} ping, whose pong it counts),
// publishes only to subscribed clients, takes publications as
// Centrifugo's API does (JSON, X-API-Key), and sends repeated deliveries
// as lines of one frame.
type fakeServer struct {
	ln         net.Listener
	api        *httptest.Server
	fault      func(client int, seq uint64) (copies int)
	centrifugo bool
	pongs      atomic.Int64

	mu         sync.Mutex // guards the fields below
	conns      []net.Conn
	subscribed []bool
}

func newFakeServer(t *testing.T, fault func(client int, seq uint64) int) *fakeServer {
	return startFake(t, &fakeServer{fault: fault})
}

func startFake(t *testing.T, s *fakeServer) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
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

// serverFrame is an unmasked frame, as a server sends it.
func serverFrame(op byte, p []byte) []byte {
	if len(p) < 126 {
		return append([]byte{0x80 | op, byte(len(p))}, p...)
	}
	return append(binary.BigEndian.AppendUint16([]byte{0x80 | op, 126}, uint16(len(p))), p...)
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
			s.subscribed = append(s.subscribed, !s.centrifugo)
			_, err := c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
			s.mu.Unlock()
			if err == nil {
				s.echo(i, c, br) // until the client goes
			}
			s.mu.Lock()
			s.conns[i] = nil
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// echo reads client frames and sends each data frame's payload back
// unmasked (centrifugo: answers commands), until a close frame or the end
// of the connection.
func (s *fakeServer) echo(i int, c net.Conn, br *bufio.Reader) {
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
		op := h[0] & 0x0f
		if op == 0x8 {
			return
		}
		reply := p
		if s.centrifugo {
			switch {
			case string(p) == "{}":
				s.pongs.Add(1)
				continue
			case bytes.Contains(p, []byte(`"connect":{}`)):
				reply = []byte(`{"id":1,"connect":{"client":"x","version":"0","ping":25}}`)
			case bytes.Contains(p, []byte(`"subscribe":{"channel":"`+centrifugoChannel+`"}`)):
				reply = []byte(`{"id":2,"subscribe":{}}` + "\n{}")
				s.mu.Lock()
				s.subscribed[i] = true
				s.mu.Unlock()
			default:
				reply = []byte(`{"id":9,"error":{"code":100,"message":"unexpected"}}`)
			}
		}
		s.mu.Lock()
		_, err := c.Write(serverFrame(op, reply))
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *fakeServer) publish(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.centrifugo {
		var cmd struct{ Channel, Data string }
		if r.Header.Get("X-API-Key") != centrifugoAPIKey || json.Unmarshal(body, &cmd) != nil || cmd.Channel != centrifugoChannel {
			_, _ = w.Write([]byte(`{"error":{"code":102,"message":"unknown channel"}}`))
			return
		}
		body = []byte(cmd.Data)
	}
	seq, _, _, ok := decodePayload(body)
	if !ok {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.conns {
		if c == nil || !s.subscribed[i] {
			continue
		}
		copies := 1
		if s.fault != nil {
			copies = s.fault(i, seq)
		}
		if copies == 0 {
			continue
		}
		if !s.centrifugo {
			for range copies {
				_, _ = c.Write(serverFrame(0x2, body))
			}
			continue
		}
		push := `{"push":{"channel":"` + centrifugoChannel + `","pub":{"data":"` + string(body) + `"}}}`
		_, _ = c.Write(serverFrame(0x1, []byte(strings.TrimSuffix(strings.Repeat(push+"\n", copies), "\n"))))
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// wsTarget is the fake as a raw WebSocket server.
func (s *fakeServer) wsTarget() target {
	t := target{name: "fake", ws: s.ln.Addr().String(), api: s.api.Listener.Addr().String(),
		endpoints: wsOnly("/ws"), topic: "t", publish: publishing{path: "/publish?topic="}}
	if s.centrifugo {
		t.endpoints = map[string]endpoint{"ws": {path: "/connection/websocket", dialect: dialectCentrifugo}}
		t.topic, t.publish = centrifugoChannel, publishing{path: "/api/publish", json: true, key: centrifugoAPIKey}
	}
	return t
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
			tg := srv.wsTarget()
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
	tg := srv.wsTarget()
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
			tg := srv.wsTarget()
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

// TestCentrifugoWebSocket runs hold and fanout in Centrifugo's dialect
// against the fake: every client connects, subscribes, answers the ping
// that shares a frame with its subscribe reply, and counts a repeated
// publication sent as a second line of one frame.
func TestCentrifugoWebSocket(t *testing.T) {
	t.Parallel()
	const n, pubs, bursts, burst = 40, 3, 1, 4
	const total = pubs + bursts*burst
	cases := []struct {
		name     string
		scenario string
		fault    func(client int, seq uint64) int
		dups     int64
	}{
		{name: "hold", scenario: "hold"},
		{name: "fanout", scenario: "fanout"},
		{name: "fanout, two pushes in one frame", scenario: "fanout", fault: func(c int, seq uint64) int {
			if c == 3 && seq == 2 {
				return 2
			}
			return 1
		}, dups: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t, &fakeServer{centrifugo: true, fault: c.fault})
			r := testRun(t, func(o *options) {
				o.workers, o.perWorker = 2, n/2
				o.pubs, o.bursts, o.burst = pubs, bursts, burst
				o.deliverTimeout = time.Second
			})
			row, err := r.measure(srv.wsTarget(), c.scenario, n)
			if err != nil {
				t.Fatal(err)
			}
			if row.Conns != n || row.Errors != 0 {
				t.Fatalf("conns %d errors %d", row.Conns, row.Errors)
			}
			srv.mu.Lock()
			subscribed := 0
			for _, s := range srv.subscribed {
				if s {
					subscribed++
				}
			}
			srv.mu.Unlock()
			if subscribed != n || srv.pongs.Load() != n {
				t.Fatalf("%d clients subscribed, %d pongs, want %d", subscribed, srv.pongs.Load(), n)
			}
			if c.scenario != "fanout" {
				return
			}
			if want := int64(n * total); row.Expected != want || row.Received != want+c.dups || row.Duplicates != c.dups ||
				row.Missing != 0 || row.PublishErrors != 0 || row.DeliveryTimeouts != 0 {
				t.Fatalf("received %d/%d dups %d missing %d publish errors %d timeouts %d", row.Received, row.Expected,
					row.Duplicates, row.Missing, row.PublishErrors, row.DeliveryTimeouts)
			}
		})
	}
}

// TestPublishErrors: a Centrifugo API error, which comes with a 200, is
// a publish error.
func TestPublishErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, &fakeServer{centrifugo: true})
	tg := srv.wsTarget()
	tg.publish.key = "wrong"
	if _, err := newPublisher(tg, 64, time.Second).post(centrifugoChannel, 1, kindSingle); err == nil {
		t.Fatal("no error for a refused key")
	}
	tg.publish.key = centrifugoAPIKey
	if _, err := newPublisher(tg, 64, time.Second).post(centrifugoChannel, 1, kindSingle); err != nil {
		t.Fatal(err)
	}
}
