package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// The flood tests run the server in a child process (this test binary,
// TestConnectionFloodChild) whose open-file limit is fdChildFiles: the test
// process keeps its own limit.
const (
	fdChildEnv     = "C1M_FLOOD_CHILD" // "loops" or "reactor": run the child, accepting on its loops or on gnet's main reactor
	fdChildFiles   = 600
	fdSubscribers  = 20
	fdFloodWorkers = 48
	fdFloodFor     = 3 * time.Second
	fdStall        = 150 * time.Millisecond // each task that holds a loop
)

// fdSubscriber subscribes every session to topic "t".
type fdSubscriber struct{ server.BuiltinHandler }

func (fdSubscriber) OnConnect(r *server.Request) error { r.Subscribe("t"); return nil }

// TestConnectionFloodChild is the server of the flood tests; it does nothing
// unless the parent test started it. It reads commands on stdin ("stall",
// "unstall", "stats") and writes its answers on stdout; it exits when
// stdin closes, or with status 3 when the engine stops by itself.
func TestConnectionFloodChild(t *testing.T) {
	mode := os.Getenv(fdChildEnv)
	if mode == "" {
		t.Skip("the child of TestConnectionFlood")
	}
	rl := syscall.Rlimit{Cur: fdChildFiles, Max: fdChildFiles}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Println("setrlimit", err)
		os.Exit(2)
	}
	srv := server.New(fdSubscriber{}, &server.Config{Addr: "127.0.0.1:0", Loops: 2})
	if mode == "reactor" {
		server.AcceptInReactor(srv)
	}
	go func() {
		err := srv.Serve()
		fmt.Printf("stopped %v\n", err)
		os.Exit(3)
	}()
	for srv.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("addr %s\n", srv.Addr())
	go func() {
		for {
			_, _ = srv.Hub().Publish("t", []byte("tick"))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var stalling atomic.Bool
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stall": // every loop runs a task that holds it, again and again
			stalling.Store(true)
			for _, sh := range server.Shards(srv) {
				go func() {
					for stalling.Load() {
						done := make(chan struct{})
						if sh.Post(func() { time.Sleep(fdStall); close(done) }) != nil {
							return
						}
						<-done
						time.Sleep(time.Millisecond)
					}
				}()
			}
		case "unstall":
			stalling.Store(false)
		case "stats":
			fds, _ := os.ReadDir("/proc/self/fd")
			refused := srv.Hub().Totals().Evictions[session.ReasonOverCapacity.String()]
			fmt.Printf("stats %d %d %d\n", refused, srv.Connections(), len(fds))
		}
	}
	// stdin closed: the parent is done. Returning (not os.Exit(0), which a
	// test may not call) ends this binary when the test is over.
}

// fdChild is a running TestConnectionFloodChild.
type fdChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // closed when the child's stdout ends
	addr  string
}

func startFDChild(t *testing.T, mode string) *fdChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestConnectionFloodChild$")
	cmd.Env = append(os.Environ(), fdChildEnv+"="+mode)
	// The child's stderr (its log, and a test binary's own verdict lines)
	// is kept apart from the parent's, and shown only when the test fails.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &fdChild{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // the copy into stderr ends here
		if t.Failed() {
			t.Logf("the child's stderr (last 4 KiB):\n%s", tail(stderr.Bytes(), 4<<10))
		}
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	line := c.next(t, 10*time.Second)
	if !strings.HasPrefix(line, "addr ") {
		t.Fatalf("child said %q, want its address", line)
	}
	c.addr = strings.TrimPrefix(line, "addr ")
	return c
}

// next returns the child's next line, "" if it ended; deadline is a hang
// guard.
func (c *fdChild) next(t *testing.T, deadline time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			return ""
		}
		return l
	case <-time.After(deadline):
		t.Fatal("the child did not answer")
		return ""
	}
}

func (c *fdChild) send(cmd string) { _, _ = io.WriteString(c.stdin, cmd+"\n") }

// stats asks the running child how many connections it refused at its
// cap and how many it holds; ok is false when the child has stopped.
func (c *fdChild) stats(t *testing.T) (refused, conns int, line string, ok bool) {
	t.Helper()
	c.send("stats")
	for {
		line = c.next(t, 30*time.Second)
		if line == "" || strings.HasPrefix(line, "stopped") {
			return 0, 0, line, false
		}
		if _, err := fmt.Sscanf(line, "stats %d %d", &refused, &conns); err == nil {
			return refused, conns, line, true
		}
	}
}

// subscribe connects n WebSocket clients (gorilla) and counts what each
// receives.
func subscribe(t *testing.T, addr string, n int) []*atomic.Int64 {
	t.Helper()
	counts := make([]*atomic.Int64, n)
	for i := range counts {
		counts[i] = new(atomic.Int64)
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+server.DefaultPath, nil)
		if err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		t.Cleanup(func() { _ = ws.Close() })
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				counts[i].Add(1)
			}
		}()
	}
	return counts
}

// flood opens TCP connections to addr from fdFloodWorkers goroutines for
// fdFloodFor and holds them (the server closes those over its cap); it
// returns them for the caller to close.
var floodErrs atomic.Int64

func flood(addr string) []net.Conn {
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	end := time.Now().Add(fdFloodFor)
	for range fdFloodWorkers {
		wg.Go(func() {
			for time.Now().Before(end) {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					floodErrs.Add(1)
					continue
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return held
}

// TestConnectionFlood: a server whose open-file limit is 600 and whose
// loops are held by tasks of 150 ms while 48 goroutines open connections
// as fast as they can, far past its connection cap. Accepting on gnet's
// main reactor (the "reactor" case, a calibration), the acceptor takes
// descriptors faster than the loops open them until accept fails with
// EMFILE and the engine stops: the flood is strong enough. Accepting on
// its loops, as it does, the server refuses what is over its cap and
// lives, its subscribers keep receiving publications, and once the flood
// ends a new client connects.
func TestConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2 x 3 s flood")
	}
	if os.Getenv(fdChildEnv) != "" {
		t.Skip("in the child")
	}
	t.Run("reactor", func(t *testing.T) {
		c := startFDChild(t, "reactor")
		subscribe(t, c.addr, fdSubscribers)
		c.send("stall")
		held := flood(c.addr)
		defer closeAll(held)
		t.Logf("dial errors %d", floodErrs.Load())
		_, _, line, ok := c.stats(t)
		if ok {
			// A calibration, not the property: on a machine whose loops keep
			// up, the flood is too weak to show gnet's failure. The "loops"
			// case still requires the cap to refuse and the server to live.
			t.Skipf("the server accepting on gnet's main reactor survived the flood (%s): the flood is too weak here to show the failure", line)
		}
		// Serve says so, with gnet's reason, rather than returning nil as
		// if Shutdown had stopped it.
		if !strings.Contains(line, server.ErrEngineStopped.Error()) || !strings.Contains(line, "accept") {
			t.Fatalf("the server accepting on the main reactor stopped with %q; want Serve to return ErrEngineStopped with gnet's reason", line)
		}
		t.Logf("the server accepting on the main reactor stopped: %q", line)
	})
	t.Run("loops", func(t *testing.T) {
		c := startFDChild(t, "loops")
		counts := subscribe(t, c.addr, fdSubscribers)
		// Floods until one reached the cap (on a loaded machine one
		// flood may not), 5 at most, each held until the end.
		var held []net.Conn
		refused := 0
		for round := 0; refused == 0 && round < 5; round++ {
			c.send("stall")
			held = append(held, flood(c.addr)...)
			c.send("unstall")
			var conns int
			var line string
			var ok bool
			refused, conns, line, ok = c.stats(t)
			if !ok {
				t.Fatalf("the server stopped: %q", line)
			}
			t.Logf("after flood %d: %d refused at the cap, %d connections, %d held by the floods", round+1, refused, conns, len(held))
		}
		if refused == 0 {
			closeAll(held)
			t.Fatal("no connection was refused at the cap: the floods did not reach it")
		}
		closeAll(held)
		// Every subscriber still receives publications.
		base := make([]int64, len(counts))
		for i, n := range counts {
			base[i] = n.Load()
		}
		deadline := time.Now().Add(30 * time.Second)
		for i, n := range counts {
			for n.Load() < base[i]+5 {
				if time.Now().After(deadline) {
					t.Fatalf("subscriber %d stopped receiving (%d then %d)", i, base[i], n.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		// The flood's connections gone, new ones are taken.
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		for {
			ws, _, err := d.Dial("ws://"+c.addr+server.DefaultPath, nil)
			if err == nil {
				_ = ws.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no new connection after the flood: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, _, line, ok := c.stats(t); !ok {
			t.Fatalf("the server stopped: %q", line)
		}
	})
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
