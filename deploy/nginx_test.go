package deploy_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginx runs each client flow through nginx with deploy/nginx/c1m.conf.
func TestNginx(t *testing.T) {
	t.Parallel()
	p := newProxy(t, "nginx", 1)
	startNginx(t, p)
	flows(t, p)
}

// TestNginxNodes: with two nodes, each stream's /send reaches its node,
// and each Engine.IO session's requests reach theirs.
func TestNginxNodes(t *testing.T) {
	t.Parallel()
	p := newProxy(t, "nginx", 2)
	startNginx(t, p)
	sticky(t, p)
	stickyEngineIO(t, p)
}

// startNginx runs nginx with deploy/nginx/c1m.conf in front of p's nodes.
func startNginx(t *testing.T, p *proxy) {
	t.Helper()
	nginx := findProxy(t, "nginx")
	const node = " max_fails=3 fail_timeout=10s;"
	var servers []string
	for _, n := range p.nodes {
		servers = append(servers, n.Addr().String()+node)
	}
	site := p.config(t, filepath.Join("nginx", "c1m.conf"),
		"127.0.0.1:8080"+node, strings.Join(servers, "\n    server "),
		"listen 443 ssl;", "listen "+p.port+" ssl;",
		"/etc/ssl/c1m/fullchain.pem", p.certFile,
		"/etc/ssl/c1m/privkey.pem", p.keyFile)
	sitePath := filepath.Join(p.dir, "c1m.conf")
	writeFile(t, sitePath, site)

	// The main configuration, as Debian's nginx.conf would hold the site,
	// with every file nginx writes in the temporary directory.
	var main strings.Builder
	fmt.Fprintf(&main, "pid %s;\n", filepath.Join(p.dir, "nginx.pid"))
	fmt.Fprintf(&main, "events { worker_connections 512; }\n")
	fmt.Fprintf(&main, "http {\n")
	fmt.Fprintf(&main, "  access_log %s;\n", filepath.Join(p.dir, "access.log"))
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&main, "  %s_temp_path %s;\n", tmp, filepath.Join(p.dir, tmp))
	}
	fmt.Fprintf(&main, "  include %s;\n}\n", sitePath)
	mainPath := filepath.Join(p.dir, "nginx.conf")
	writeFile(t, mainPath, main.String())

	errorLog := filepath.Join(p.dir, "error.log")
	// One process (master_process off) in the foreground.
	p.run(t, exec.Command(nginx, "-p", p.dir, "-c", mainPath, "-e", errorLog,
		"-g", "daemon off; master_process off; error_log "+errorLog+" info;"), errorLog)
}
