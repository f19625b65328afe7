package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c1mhq/c1m/server"
)

// TestHAProxy runs each client flow through haproxy with
// deploy/haproxy/c1m.cfg.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	p := newProxy(t, "haproxy", 1)
	startHAProxy(t, p)
	flows(t, p)
}

// TestHAProxyNodes: with two nodes, each stream's /send reaches its node,
// and each Engine.IO session's requests reach theirs.
func TestHAProxyNodes(t *testing.T) {
	t.Parallel()
	p := newProxy(t, "haproxy", 2)
	startHAProxy(t, p)
	sticky(t, p)
	stickyEngineIO(t, p)
}

// TestHAProxyProxyProtocol: haproxy names the client in a PROXY protocol
// header, version 1 (send-proxy) and 2 (send-proxy-v2), to nodes that
// require one, without X-Forwarded-For: every flow works, and the
// handler sees the client's address, not the proxy's nor one the client
// forged in X-Forwarded-For.
func TestHAProxyProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, option := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(option, func(t *testing.T) {
			t.Parallel()
			p := newProxyWith(t, "haproxy", 1, func(cfg *server.Config) { cfg.ProxyProtocol = server.ProxyProtocolRequired })
			startHAProxy(t, p,
				"check inter 5s", "check inter 5s "+option,
				"    http-request set-header X-Forwarded-For %[src]\n", "",
				"    http-request set-header X-Real-IP %[src]\n", "")
			flows(t, p)
		})
	}
}

// startHAProxy runs haproxy with deploy/haproxy/c1m.cfg in front of p's
// nodes, with more replacements in the configuration.
func startHAProxy(t *testing.T, p *proxy, replace ...string) {
	t.Helper()
	haproxy := findProxy(t, "haproxy")
	// haproxy takes the certificate and its key in one file.
	cert, err := os.ReadFile(p.certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(p.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(p.dir, "c1m.pem")
	writeFile(t, pem, string(cert)+string(key))
	var servers []string
	for i, n := range p.nodes {
		servers = append(servers, fmt.Sprintf("node%d %s check inter 5s", i+1, n.Addr()))
	}
	conf := p.config(t, filepath.Join("haproxy", "c1m.cfg"),
		"node1 127.0.0.1:8080 check inter 5s", strings.Join(servers, "\n    server "),
		"bind :443 ", "bind "+p.port+" ",
		"/etc/ssl/c1m/c1m.pem", pem,
		// No syslog here: haproxy's own messages go to its stderr.
		"log /dev/log local0", "",
		// Within a test machine's open-file limit.
		"maxconn 100000", "maxconn 1000")
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(conf, replace[i]) {
			t.Fatalf("haproxy's configuration has no %q to replace", replace[i])
		}
		conf = strings.ReplaceAll(conf, replace[i], replace[i+1])
	}
	path := filepath.Join(p.dir, "haproxy.cfg")
	writeFile(t, path, conf)
	// -db: in the foreground, one process.
	p.run(t, exec.Command(haproxy, "-db", "-f", path))
}
