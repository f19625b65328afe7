package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHAProxy runs each client flow through haproxy with
// deploy/haproxy/c1m.cfg.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	haproxy := findProxy(t, "haproxy")
	p := newProxy(t, "haproxy")
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
	conf := p.config(t, filepath.Join("haproxy", "c1m.cfg"),
		"127.0.0.1:8080", p.srv.Addr().String(),
		"bind :443 ", "bind "+p.port+" ",
		"/etc/ssl/c1m/c1m.pem", pem,
		// No syslog here: haproxy's own messages go to its stderr.
		"log /dev/log local0", "",
		// Within a test machine's open-file limit.
		"maxconn 100000", "maxconn 1000")
	path := filepath.Join(p.dir, "haproxy.cfg")
	writeFile(t, path, conf)
	// -db: in the foreground, one process.
	p.run(t, exec.Command(haproxy, "-db", "-f", path))
	flows(t, p)
}
