package interop

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c1mhq/c1m/internal/browsertest"
)

//go:embed browser/socketio.html
var socketioPage []byte

//go:embed node/sio-publications.mjs
var sioPublicationsModule []byte

// sioBundle is the official client bundle, from the pinned npm package.
const sioBundle = "node/node_modules/socket.io-client/dist/socket.io.min.js"

// sioBrowserTimeout bounds one engine's run: a cold browser start and two
// phases per server of a few seconds each, on a loaded 2-core machine.
const sioBrowserTimeout = 3 * time.Minute

// sioBrowserEngines are the engines of the Socket.IO browser test.
var sioBrowserEngines = []browsertest.Engine{browsertest.Chromium, browsertest.Firefox}

// sioPhase is one connection of the page (browser/socketio.html).
type sioPhase struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Subscribe []any  `json:"subscribe"`
	Want      string `json:"want"` // the transport the phase must end on

	srv  sioServer
	room string
}

// TestBrowsersSocketIO loads the official socket.io-client bundle in
// headless Chromium and Firefox (internal/browsertest) from a page that
// joins a room and receives httpPublications room publications from the
// backend API, in order, each once: once with the client's default
// transports (the page must end on WebSocket), and once through a proxy
// that refuses every WebSocket handshake, as a proxy without WebSocket
// does, so that long-polling carries them all (the page must end on
// polling, and the proxy must have refused the client's attempts).
func TestBrowsersSocketIO(t *testing.T) {
	t.Parallel()
	bundle, err := os.ReadFile(sioBundle)
	if err != nil {
		t.Fatalf("%v: `make test-deps` (scripts/test-deps.sh) runs npm ci", err)
	}
	for _, e := range sioBrowserEngines {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			browsertest.Require(t, e) // before servers start for nothing
			servers := []sioServer{startReference(t, sioRooms), startC1mRooms(t)}
			var phases []*sioPhase
			var blockers []*wsBlocker
			for _, srv := range servers {
				b := startWSBlocker(t, strings.TrimPrefix(srv.base, "http://"))
				blockers = append(blockers, b)
				for _, mode := range []struct{ name, url, want string }{
					{"websocket", srv.base, "websocket"},
					{"polling", "http://" + b.addr(), "polling"},
				} {
					room := fmt.Sprintf("browser-%s-%s-%s", e, srv.name, mode.name)
					phases = append(phases, &sioPhase{
						Name: srv.name + "/" + mode.name, URL: mode.url, Subscribe: []any{"subscribe", room},
						Want: mode.want, srv: srv, room: room,
					})
				}
			}
			page := serveSocketIOPage(t, bundle, phases)
			ctx, cancel := context.WithTimeout(t.Context(), sioBrowserTimeout)
			defer cancel()
			raw, err := browsertest.Run(ctx, t, e, page)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				OK     bool   `json:"ok"`
				Error  string `json:"error"`
				Phases []struct {
					Name      string `json:"name"`
					OK        bool   `json:"ok"`
					Got       int    `json:"got"`
					Transport string `json:"transport"`
					MS        int    `json:"ms"`
					Detail    string `json:"detail"`
				} `json:"phases"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("verdict %s: %v", raw, err)
			}
			if got.Error != "" {
				t.Errorf("page error: %s", got.Error)
			}
			if len(got.Phases) != len(phases) {
				t.Fatalf("the page ran %d phases, want %d: %s", len(got.Phases), len(phases), raw)
			}
			for i, ph := range got.Phases {
				if !ph.OK || ph.Got != httpPublications || ph.Transport != phases[i].Want {
					t.Errorf("%s: %d of %d publications in order, on %s (want %s): %s", ph.Name, ph.Got, httpPublications, ph.Transport, phases[i].Want, ph.Detail)
					continue
				}
				t.Logf("%s: %d publications in order in %d ms, on %s; %s", ph.Name, ph.Got, ph.MS, ph.Transport, ph.Detail)
			}
			for i, b := range blockers {
				if n := b.refused.Load(); n == 0 {
					t.Errorf("%s: the client never tried WebSocket through the blocking proxy", servers[i].name)
				} else {
					t.Logf("%s: the proxy refused %d WebSocket handshakes", servers[i].name, n)
				}
			}
		})
	}
}

// serveSocketIOPage serves browser/socketio.html, the client bundle and
// sio-publications.mjs on a test server, publishes a phase's publications
// when the page fetches /ready/NAME, and returns the page's URL.
func serveSocketIOPage(t *testing.T, bundle []byte, phases []*sioPhase) string {
	t.Helper()
	byName := map[string]*sioPhase{}
	for _, ph := range phases {
		byName[ph.Name] = ph
	}
	mux := http.NewServeMux()
	static := func(path, contentType string, body []byte) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write(body)
		})
	}
	static("/{$}", "text/html; charset=utf-8", socketioPage)
	static("/socket.io.min.js", "text/javascript; charset=utf-8", bundle)
	static("/sio-publications.mjs", "text/javascript; charset=utf-8", sioPublicationsModule)
	var mu sync.Mutex // guards published
	published := map[string]bool{}
	mux.HandleFunc("GET /ready/{name...}", func(w http.ResponseWriter, r *http.Request) {
		ph := byName[r.PathValue("name")]
		mu.Lock()
		again := published[r.PathValue("name")]
		published[r.PathValue("name")] = true
		mu.Unlock()
		if ph == nil || again {
			http.Error(w, "unknown or repeated phase", http.StatusBadRequest)
			return
		}
		if err := publishRoomErr(ph.srv, ph.room, 1, httpPublications); err != nil {
			t.Errorf("%s: %v", ph.Name, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	list, err := json.Marshal(phases)
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL + "/?" + url.Values{"n": {fmt.Sprint(httpPublications)}, "phases": {string(list)}}.Encode()
}

// publishRoomErr is publishRoom for goroutines other than the test's.
func publishRoomErr(srv sioServer, room string, from, to int) error {
	hc := &http.Client{Timeout: wireWait}
	for i := from; i <= to; i++ {
		resp, err := hc.Post(srv.api+"/api/publish?topic="+url.QueryEscape(room), "text/plain; charset=utf-8", strings.NewReader(sioPublication(i)))
		if err != nil {
			return fmt.Errorf("publish %d to %s: %w", i, room, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("publish %d to %s: %s", i, room, resp.Status)
		}
	}
	return nil
}

// wsBlocker is a TCP proxy to a Socket.IO server that refuses every
// Engine.IO WebSocket handshake with 403, as a proxy that does not pass
// WebSocket does, and passes everything else. Safe for concurrent use.
type wsBlocker struct {
	ln      net.Listener
	target  string
	refused atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex // guards conns
	conns   map[net.Conn]struct{}
}

// wsHandshake starts the request line of every Engine.IO WebSocket
// handshake (the clients put EIO first, then transport).
const wsHandshake = "GET /socket.io/?EIO=4&transport=websocket"

// startWSBlocker listens on 127.0.0.1 until the test ends.
func startWSBlocker(t *testing.T, target string) *wsBlocker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &wsBlocker{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			_ = c.Close()
		}
		b.conns = nil
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *wsBlocker) addr() string { return b.ln.Addr().String() }

// track records c so that cleanup can close it; false when closing.
func (b *wsBlocker) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		_ = c.Close()
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

// serve handles one client connection: each request is read whole (head
// and Content-Length body) and passed on over one server connection, its
// answer passed back, until a WebSocket handshake, which is refused, or
// either side ends. Browsers keep polling connections alive, so every
// request is looked at, not only the first.
func (b *wsBlocker) serve(c net.Conn) {
	defer c.Close()
	if !b.track(c) {
		return
	}
	s, err := net.Dial("tcp", b.target)
	if err != nil {
		return
	}
	defer s.Close()
	if !b.track(s) {
		return
	}
	in, out := bufio.NewReader(c), bufio.NewReader(s)
	for {
		req, err := http.ReadRequest(in)
		if err != nil {
			return
		}
		if strings.HasPrefix(req.Method+" "+req.URL.RequestURI(), wsHandshake) {
			b.refused.Add(1)
			_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		if err := req.Write(s); err != nil {
			return
		}
		resp, err := http.ReadResponse(out, req)
		if err != nil {
			return
		}
		err = resp.Write(c)
		resp.Body.Close()
		if err != nil || resp.Close {
			return
		}
	}
}
