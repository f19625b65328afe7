package main

import (
	"time"

	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/session"
)

// echo sends every Engine.IO message back unchanged, text as text and
// binary as binary, over whatever transport the session has.
type echo struct{ server.BuiltinHandler }

func (echo) OnMessage(s *server.Session, m server.Message) { _ = s.Send(m.Op, m.Data) }

// newEchoServer returns the plain Engine.IO echo server (-engineio-echo);
// tests start it in-process.
func newEchoServer(o options) *server.Server {
	cfg := baseConfig(o)
	cfg.Engine = &server.EngineConfig{
		Path:         "/engine.io/",
		Handler:      echo{},
		PingInterval: o.pingInterval,
		PingTimeout:  o.pingTimeout,
		MaxPayload:   maxPayload,
	}
	return server.New(nil, &cfg)
}

// heartbeatTiming returns shard timing whose tick is a tenth of the
// shortest heartbeat deadline (at most the default tick), so that a ping
// or a timeout is late by at most that much.
func heartbeatTiming(pingTimeout time.Duration) session.Config {
	tick := min(max(pingTimeout/10, time.Millisecond), session.DefaultTick)
	return session.Config{Tick: tick}
}
