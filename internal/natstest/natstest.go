// Package natstest runs a real nats-server with JetStream inside a test
// process, for the cluster tests: no mock of the bus.
package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is an in-process nats-server whose JetStream store lives in a
// directory of the test, so that a restart keeps the streams.
type Server struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// Start runs a nats-server with JetStream on a free loopback port, stopped
// at the end of the test. Call it from the test's goroutine.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: server.RANDOM_PORT}
	s.run()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) run() {
	s.t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir,
		NoLog: true, NoSigs: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		s.t.Fatalf("nats-server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatalf("nats-server not ready")
	}
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
}

// URL returns the server's client URL (the same across restarts). Safe
// for concurrent use.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Stop shuts the server down; Restart brings it back on the same port with
// the same store. Safe to call twice.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart starts a stopped server again, with its streams. Call it from
// the test's goroutine.
func (s *Server) Restart() {
	s.t.Helper()
	s.run()
}

// RestartEmpty starts a stopped server again with an empty store: NATS
// lost its streams. Call it from the test's goroutine.
func (s *Server) RestartEmpty() {
	s.t.Helper()
	s.dir = s.t.TempDir()
	s.run()
}

// Server returns the running nats-server, for its statistics (Varz).
// Call it from the test's goroutine (the server changes on a restart).
func (s *Server) Server() *server.Server { return s.srv }

// Connect connects a client of its own to the NATS server at url, with
// opts, closed at the end of the test: a test's own reads and writes on
// the bus, beside the nodes'. Call it from the test's goroutine.
func Connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
