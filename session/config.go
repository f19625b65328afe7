package session

import "time"

// Config sets a shard's timing. Its zero value works; durations are rounded
// up to whole ticks.
type Config struct {
	// Tick is the resolution of the timing wheel. Zero means 500ms.
	Tick time.Duration
	// HandshakeTimeout bounds the time from accept to a complete, answered
	// request head. Zero means 10s; negative disables.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a session that sent nothing for this long (pongs
	// count). Zero means disabled: keepalive pings find dead peers.
	IdleTimeout time.Duration
	// PingInterval is how long a session may be silent before the server
	// pings it. Zero means 30s; negative disables pings.
	PingInterval time.Duration
	// PongTimeout is how long a ping may stay unanswered (by a pong or any
	// other traffic) before the session is closed. Zero means 15s.
	PongTimeout time.Duration
	// CloseTimeout is how long a closing session waits for the peer's close
	// frame before the connection is dropped. Zero means 5s.
	CloseTimeout time.Duration
	// MaxInflight caps the bytes other goroutines may have queued in the
	// inbox for one session with Session.Send: each message counts its
	// payload and sendOverhead (64 bytes). Zero means 4 MiB; negative
	// disables.
	MaxInflight int
	// MaxBacklog caps the publications waiting in one shard's inbox or for
	// their writes, in bytes (each counts its payload, its struct and task,
	// and from its delivery on the wire forms encoded for it): past it the
	// Hub's Publish, Broadcast and SendTo refuse with ErrBacklog and send
	// nothing, so that publishers faster than the loop cannot grow its
	// inbox without bound. Zero means 64 MiB; negative disables.
	MaxBacklog int
}

// Defaults for Config.
const (
	DefaultTick             = 500 * time.Millisecond
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultPongTimeout      = 15 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultMaxInflight      = 4 << 20
	DefaultMaxBacklog       = 64 << 20
)

// shardConfig is Config in ticks.
type shardConfig struct {
	tick                                                        time.Duration
	handshakeTicks, idleTicks, pingTicks, pongTicks, closeTicks int64
	maxInflight, maxBacklog                                     int64
}

func (c Config) ticks() shardConfig {
	if c.Tick <= 0 {
		c.Tick = DefaultTick
	}
	toTicks := func(d, def time.Duration) int64 {
		switch {
		case d == 0:
			d = def
		case d < 0:
			return 0
		}
		return int64((d + c.Tick - 1) / c.Tick)
	}
	switch {
	case c.MaxInflight == 0:
		c.MaxInflight = DefaultMaxInflight
	case c.MaxInflight < 0:
		c.MaxInflight = 0
	}
	switch {
	case c.MaxBacklog == 0:
		c.MaxBacklog = DefaultMaxBacklog
	case c.MaxBacklog < 0:
		c.MaxBacklog = 0
	}
	return shardConfig{
		tick:           c.Tick,
		handshakeTicks: toTicks(c.HandshakeTimeout, DefaultHandshakeTimeout),
		idleTicks:      toTicks(c.IdleTimeout, -1),
		pingTicks:      toTicks(c.PingInterval, DefaultPingInterval),
		pongTicks:      toTicks(c.PongTimeout, DefaultPongTimeout),
		closeTicks:     toTicks(c.CloseTimeout, DefaultCloseTimeout),
		maxInflight:    int64(c.MaxInflight),
		maxBacklog:     int64(c.MaxBacklog),
	}
}
