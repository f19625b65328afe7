package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestOpenFileLimit: a server whose process runs out of file descriptors
// must not die. gnet stops its whole engine when accept(2) fails with
// EMFILE, so c1m caps its connections below the open-file limit: a
// connection storm far past the limit gets 503 for what does not fit, the
// connections already open keep working, and the server accepts again once
// clients leave.
//
// All 900 dial at once. The loops accept for themselves and close what
// is over the cap in the event that accepted it, so no pile of accepted
// descriptors builds up behind them (server/listen.go); when gnet's main
// reactor accepted for the loops, a storm this wide under the race
// detector on a loaded machine took the engine to EMFILE. The flood of
// server's TestConnectionFlood holds the loops busy as well.
func TestOpenFileLimit(t *testing.T) {
	t.Parallel()
	const (
		files   = 300
		clients = 3 * files // far past the limit
		dialers = clients   // in flight at once
	)
	sem := make(chan struct{}, dialers)
	cmd := exec.Command("bash", "-c", "ulimit -n "+strconv.Itoa(files)+" && exec \"$0\" \"$@\"",
		binary, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0")
	in := startCmd(t, cmd)
	u, _ := url.Parse(in.clients)

	first := in.dial(t, "?topic=news")
	var mu sync.Mutex
	var upgraded, refused []net.Conn
	var other []string
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
			if err != nil {
				mu.Lock()
				other = append(other, err.Error())
				mu.Unlock()
				return
			}
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			_, _ = c.Write([]byte("GET " + u.Path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
				c.Close()
			case resp.StatusCode == http.StatusSwitchingProtocols:
				upgraded = append(upgraded, c)
			case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
				refused = append(refused, c)
			default:
				other = append(other, resp.Status)
				c.Close()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d clients against %d files: %d upgraded, %d refused with 503, %d other (%.3q)",
		clients, files, len(upgraded), len(refused), len(other), other[:min(len(other), 3)])
	if len(refused) == 0 {
		t.Fatal("no client was refused: the cap did not apply")
	}
	if len(upgraded) == 0 {
		t.Fatal("no client was upgraded")
	}
	// The server is alive: the first client still gets publications.
	in.post(t, "/api/publish?topic=news", "still up")
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Second)) // the storm may have outlasted the dial's
	if _, p, err := first.ReadMessage(); err != nil || string(p) != "still up" {
		t.Fatalf("first client after the storm: %q %v; the server's last notices: %q", p, err, in.notices())
	}
	// And it takes new clients once others leave.
	for _, c := range append(upgraded, refused...) {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := websocket.DefaultDialer.Dial(in.clients+"?topic=news", nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new client accepted after the storm: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the server frees the closed connections' descriptors
	}
	select {
	case err := <-in.exited:
		t.Fatalf("c1m exited: %v", err)
	default:
	}
}

// TestAPIConnectionLimit: the API serves at most -api-max-conns
// connections at once, so that a flood of them cannot take the files the
// client connections' cap leaves free; one more waits, unanswered, until
// a connection closes.
func TestAPIConnectionLimit(t *testing.T) {
	t.Parallel()
	in := startC1M(t, "-api-max-conns", "2")
	u, _ := url.Parse(in.api)
	request := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		return c, bufio.NewReader(c)
	}
	answered := func(c net.Conn, br *bufio.Reader, wait time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	// Two keep-alive connections, answered and held open.
	first, br1 := request()
	if !answered(first, br1, 10*time.Second) {
		t.Fatal("the first API connection was not answered")
	}
	second, br2 := request()
	if !answered(second, br2, 10*time.Second) {
		t.Fatal("the second API connection was not answered")
	}
	third, br3 := request()
	if answered(third, br3, time.Second) {
		t.Fatal("a third API connection was served beside two held ones, with -api-max-conns 2")
	}
	first.Close()
	if !answered(third, br3, 10*time.Second) {
		t.Fatal("the third API connection was not served after the first closed")
	}
	// No bound at all is not on offer: 0 is refused at start.
	out, err := exec.Command(binary, "-listen", "127.0.0.1:0", "-api", "127.0.0.1:0", "-api-max-conns", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-api-max-conns 0: want at least 1") {
		t.Fatalf("c1m -api-max-conns 0: %v, %q", err, out)
	}
}
