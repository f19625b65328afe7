package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// EngineConfig serves Engine.IO v4 (the transport layer of Socket.IO) on
// the client port, beside WebSocket and the other HTTP transports: HTTP
// long-polling, WebSocket, and the upgrade from the first to the second.
//
// An Engine.IO session is a Session like any other: it can subscribe to
// topics (with history and resume), be reached by Hub.SendTo and
// SendToUser, and counts in the stats. Its Handler decides on each
// handshake (OnConnect: Reject refuses it, answered as the reference
// server does) and gets OnOpen, OnMessage for each message packet (text,
// or binary: a WebSocket binary frame or a 'b' packet of a polling
// payload), and OnClose once, with one of the reference server's reasons:
// "transport close" (the client's close packet: StatusNormalClosure; its
// connection lost: StatusAbnormalClosure), "ping timeout"
// (StatusGoingAway), "parse error" and "transport error" (a bad packet, a
// ping from the client, overlapping polls: StatusProtocolError), "slow
// consumer" (StatusPolicyViolation), or the code and reason given to
// Session.Close. Session.Send sends one message packet over whatever
// transport the session has at that moment; Session.Close sends the close
// packet after what is queued. Config.Workers applies as for WebSocket.
type EngineConfig struct {
	// Path is where Engine.IO is served (the client's path option). Zero
	// means "/socket.io/"; the path without its trailing slash is served
	// too.
	Path string
	// Handler gets the Engine.IO sessions' events. Nil means
	// BuiltinHandler.
	Handler Handler
	// PingInterval is how often the server pings a session; the client
	// answers each ping with a pong. Zero means 25s, as the reference
	// server. The shard's tick (Config.Timing.Tick) should be well under
	// it and PingTimeout: heartbeats are checked on the tick.
	PingInterval time.Duration
	// PingTimeout is how long a ping may stay unanswered (no pong and no
	// other packet) before the session is closed with "ping timeout". A
	// polling client that makes no request for PingInterval plus
	// PingTimeout is closed so too. Zero means 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds an upgrade to WebSocket, from the WebSocket's
	// handshake to the client's upgrade packet; past it the WebSocket is
	// closed and the session stays on polling. It is checked with the
	// heartbeat, so it may run up to PingInterval late. Zero means 10s.
	UpgradeTimeout time.Duration
	// MaxPayload is the largest polling request body and WebSocket
	// message the server takes, told to the client in the handshake, and
	// the most a poll's answer carries (at least one packet). Zero means
	// 1,000,000 bytes.
	MaxPayload int
	// Publication, when set, appends to dst the payload of the message
	// packet (without its '4' type) that a topic publication becomes for
	// Engine.IO sessions, and reports whether it is binary. Nil sends the
	// publication's data itself: a text message, binary when it is not
	// valid UTF-8. It runs once per publication, on the loop of the
	// first Engine.IO session the publication reaches (other loops may
	// run it at the same time for other publications); it must not block
	// or keep dst. Its result is shared by every Engine.IO session.
	Publication func(dst []byte, p *session.Publication) (out []byte, binary bool)
}

// Defaults for EngineConfig.
const (
	DefaultEnginePath           = "/socket.io/"
	DefaultEnginePingInterval   = 25 * time.Second
	DefaultEnginePingTimeout    = 20 * time.Second
	DefaultEngineUpgradeTimeout = 10 * time.Second
	DefaultEngineMaxPayload     = 1_000_000
)

// eioEngine is an EngineConfig with its defaults, and what the server derives
// from it once.
type eioEngine struct {
	EngineConfig
	altPath string       // Path without its trailing slash
	limits  codec.Limits // of a WebSocket message
	sidKey  cipher.Block // the secret half of a direct WebSocket's sid (sidToken)
}

// newEngine fills c's defaults, or returns nil when c is nil.
func newEngine(c *EngineConfig, cfg *Config) *eioEngine {
	if c == nil {
		return nil
	}
	e := &eioEngine{EngineConfig: *c}
	if e.Path == "" {
		e.Path = DefaultEnginePath
	}
	if len(e.Path) > 1 && e.Path[len(e.Path)-1] == '/' {
		e.altPath = e.Path[:len(e.Path)-1]
	}
	if e.Handler == nil {
		e.Handler = BuiltinHandler{}
	}
	if e.PingInterval <= 0 {
		e.PingInterval = DefaultEnginePingInterval
	}
	if e.PingTimeout <= 0 {
		e.PingTimeout = DefaultEnginePingTimeout
	}
	if e.UpgradeTimeout <= 0 {
		e.UpgradeTimeout = DefaultEngineUpgradeTimeout
	}
	if e.MaxPayload <= 0 {
		e.MaxPayload = DefaultEngineMaxPayload
	}
	e.MaxPayload = min(e.MaxPayload, MaxLimit)
	e.limits = codec.Limits{MaxFrame: min(cfg.MaxFrame, int64(e.MaxPayload)), MaxMessage: int64(e.MaxPayload)}
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand: it never fails on Linux
	e.sidKey, _ = aes.NewCipher(key[:])
	return e
}

// sidToken returns the secret half of the sid of the direct WebSocket
// session id (eio_direct.go): a pseudo-random function of the id under
// the process's own key, so that the session keeps no token, and a sid
// cannot be guessed from the ids (which count up). Never 0 (parseSID
// refuses it). Safe for concurrent use.
func (e *eioEngine) sidToken(id uint64) uint64 {
	var b [aes.BlockSize]byte
	binary.LittleEndian.PutUint64(b[:], id)
	e.sidKey.Encrypt(b[:], b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// record encodes p as an outbox record of the message packet that
// Publication makes of it (the form formEIORecord).
func (e *eioEngine) record(p *session.Publication) []byte {
	out, at := codec.StartEIOMessage(nil)
	binary := !p.Text
	if e.Publication == nil {
		out = append(out, p.Data...)
	} else {
		out, binary = e.Publication(out, p)
	}
	return codec.EndEIOMessage(out, at, binary)
}

// matches reports whether path is the engine's.
func (e *eioEngine) matches(path []byte) bool {
	return string(path) == e.Path || (e.altPath != "" && string(path) == e.altPath)
}
