package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// echoHandler echoes messages and lets a test hook into connects.
type echoHandler struct {
	server.BuiltinHandler
	connect func(r *server.Request) error
}

func (h *echoHandler) OnConnect(r *server.Request) error {
	if h.connect != nil {
		return h.connect(r)
	}
	return nil
}

func (h *echoHandler) OnMessage(s *server.Session, m server.Message) { _ = s.Send(m.Op, m.Data) }

// fastTiming makes deadlines short enough for tests to reach them.
var fastTiming = session.Config{
	Tick:             20 * time.Millisecond,
	HandshakeTimeout: 200 * time.Millisecond,
	CloseTimeout:     200 * time.Millisecond,
}

// start runs a server on a free port for the test's lifetime.
func start(t testing.TB, h server.Handler, cfg server.Config) (*server.Server, string) {
	t.Helper()
	if h == nil {
		h = &echoHandler{}
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	srv := server.New(h, &cfg)
	serve(t, srv)
	return srv, srv.Addr().String()
}

// serve starts srv and shuts it down at the end of the test.
func serve(t testing.TB, srv *server.Server) {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// limits used by the bad-input tests.
const (
	testMaxFrame   = 1 << 10
	testMaxMessage = 4 << 10
)

var _ = codec.StatusNormalClosure
