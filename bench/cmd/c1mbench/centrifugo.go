package main

// Centrifugo as a peer: built from the Go module proxy at a pinned
// version into a cache folder (once: a few minutes on two cores), run with
// a generated config file. It serves WebSocket (its bidirectional JSON
// protocol: connect, then subscribe), uni_sse and uni_http_stream (the
// unidirectional transports, where the subscription comes with the
// connect request), publication through its HTTP API with a key, and
// history in the "hist" namespace.
//
// Anonymous clients: client.allow_anonymous_connect_without_token lets
// them connect without a JWT, and the "bench" namespace lets them
// subscribe (allow_subscribe_for_client with
// allow_subscribe_for_anonymous). A uni_sse client names its channel in
// the connect request's subs (cf_connect={"subs":{"bench:t":{}}}):
// Centrifugo v6 subscribes an anonymous connection server-side to every
// channel of subs it could subscribe to itself (internal/client/handler.go,
// OnClientConnecting), so no token or connect proxy is needed.

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	centrifugoModule  = "github.com/centrifugal/centrifugo/v6"
	centrifugoVersion = "v6.9.1"
	// centrifugoAPIKey is the HTTP API key of the generated config
	// (loopback only).
	centrifugoAPIKey = "c1mbench"
	// centrifugoHistory is the namespace that keeps history like the c1m
	// binary's default: the last 100 publications for 2 minutes.
	centrifugoHistory = "hist:"
)

// centrifugoConfig is the generated config file (Centrifugo v6 keys,
// internal/config/config.go and internal/configtypes).
var centrifugoConfig = map[string]any{
	"log":    map[string]any{"level": "error"},
	"client": map[string]any{"allow_anonymous_connect_without_token": true},
	"channel": map[string]any{"namespaces": []any{
		map[string]any{"name": "bench", "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true},
		map[string]any{"name": strings.TrimSuffix(centrifugoHistory, ":"), "history_size": 100, "history_ttl": "120s"},
	}},
	"http_api":        map[string]any{"key": centrifugoAPIKey},
	"uni_sse":         map[string]any{"enabled": true},
	"uni_http_stream": map[string]any{"enabled": true},
	// /debug/pprof on the internal port: the heap after a forced GC.
	"debug":       map[string]any{"enabled": true},
	"usage_stats": map[string]any{"disabled": true},
}

// centrifugoDir is where the built binary and its config stay between
// runs.
func centrifugoDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "c1mbench", "centrifugo-"+centrifugoVersion)
}

// buildCentrifugo installs Centrifugo into centrifugoDir unless it is
// there, writes the config beside it and links the binary at bin.
func buildCentrifugo(bin string) error {
	dir := centrifugoDir()
	exe := filepath.Join(dir, "centrifugo")
	if _, err := os.Stat(exe); err != nil {
		log.Printf("centrifugo: go install %s@%s into %s (once; a few minutes)", centrifugoModule, centrifugoVersion, dir)
		cmd := exec.Command("go", "install",
			"-ldflags=-X "+centrifugoModule+"/internal/build.Version="+strings.TrimPrefix(centrifugoVersion, "v"),
			centrifugoModule+"@"+centrifugoVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go install %s@%s: %v\n%s", centrifugoModule, centrifugoVersion, err, out)
		}
	}
	b, err := json.MarshalIndent(centrifugoConfig, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		return err
	}
	return os.Symlink(exe, bin)
}

func centrifugo() server {
	connect := url.QueryEscape(`{"subs":{"` + centrifugoChannel + `":{}}}`)
	return server{
		name:  "centrifugo",
		build: buildCentrifugo,
		args: func(ws, api string) []string {
			host, port, _ := net.SplitHostPort(ws)
			ihost, iport, _ := net.SplitHostPort(api)
			return []string{
				"-c", filepath.Join(centrifugoDir(), "config.json"),
				"--http_server.address", host, "--http_server.port", port,
				"--http_server.internal_address", ihost, "--http_server.internal_port", iport,
			}
		},
		endpoints: map[string]endpoint{
			"ws":  {path: "/connection/websocket", dialect: dialectCentrifugo},
			"sse": {path: "/connection/uni_sse?cf_connect=" + connect, dialect: dialectCentrifugo},
		},
		topic:   centrifugoChannel,
		publish: publishing{path: "/api/publish", json: true, key: centrifugoAPIKey},
		history: centrifugoHistory + "h",
		stats:   "/debug/pprof/heap?debug=1&gc=1",
		note: "Centrifugo " + centrifugoVersion + ", memory engine, JSON protocol: WebSocket clients connect then subscribe; " +
			"SSE is uni_sse with the channel in the connect request; heap from /debug/pprof/heap after a forced GC " +
			"(no FreeOSMemory: its RSS may keep freed pages)",
	}
}
