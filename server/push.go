package server

import (
	"bytes"
	"net/http"
	"time"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// PushConfig configures Push. Its zero value works.
type PushConfig struct {
	// TopicParam is the query parameter that names topics to subscribe to
	// at connect (/ws?topic=a&topic=b). Zero means "topic".
	TopicParam string
	// MaxTopics caps one session's subscriptions. Zero means 64.
	MaxTopics int
	// ClientPublish lets clients publish with the "publish" command. Off by
	// default: publishing is the backend's, through the API.
	ClientPublish bool
	// Auth, when set, decides on each connection before the upgrade (return
	// Reject(401, ...) to refuse) and may call r.SetUser or r.SetData. It
	// runs after Tokens and Policy have accepted the connection.
	Auth func(r *Request) error

	// Tokens, when set, verifies the connection token of every request on
	// every transport (auth.go): a bad, expired or wrongly signed token is
	// refused with 401, and Policy applies to topics. Nil means no tokens
	// and no Policy: every client may use every topic.
	Tokens *auth.Verifier
	// TokenRequired refuses requests without a token with 401. Off by
	// default: such clients are anonymous, and Policy keeps protected
	// topics from them.
	TokenRequired bool
	// TokenCookie names the cookie a token may come in. Zero means
	// DefaultTokenCookie.
	TokenCookie string
	// Policy decides which topics a client may subscribe and publish to,
	// from its token's claims, when Tokens is set. Its zero value is the
	// default rule set (auth.Policy).
	Policy auth.Policy

	// CommandRate caps the commands one session sends, per second, with a
	// token bucket of CommandBurst: over it a command gets the error reply
	// "rate limited" and does nothing, and a session that goes on sending
	// after three bursts' worth of refusals in a row is closed with 1008
	// "rate limited". Zero means no limit.
	CommandRate float64
	// CommandBurst is how many commands a session may send at once before
	// CommandRate applies. Zero means one second's worth of CommandRate
	// (at least 1).
	CommandBurst int
	// PublishRate caps the publish commands one session sends, per
	// second, with a token bucket of PublishBurst, apart from
	// CommandRate (a publication costs a fan-out; a subscribe does not):
	// over it the publish gets the error reply "publish rate limited"
	// and is not published, and a session that goes on after three
	// bursts' worth of refusals in a row is closed with 1008 "publish
	// rate limited". Zero means no limit.
	PublishRate float64
	// PublishBurst is how many publications a session may send at once
	// before PublishRate applies. Zero means one second's worth (at
	// least 1).
	PublishBurst int
}

// Default values of PushConfig.
const (
	DefaultTopicParam = "topic"
	DefaultMaxTopics  = 64
	// DefaultTokenCookie is the cookie that carries a connection token.
	DefaultTokenCookie = "c1m_token"
)

// Push is the Handler of c1m's push server: clients subscribe to topics in
// the URL or with JSON commands (PROTOCOL.md), and each publication to a
// topic (Server.Hub().Publish) reaches every subscriber on every loop.
type Push struct {
	BuiltinHandler
	cfg     PushConfig
	denials denialCounts
	limiter *commandLimiter // CommandRate, nil without a limit (ratelimit.go)
	pubs    *commandLimiter // PublishRate, nil without a limit (ratelimit.go)
	// expiryDelay holds back the expiry timers (tests: SetExpiryDelay).
	expiryDelay time.Duration
}

var _ Handler = (*Push)(nil)

// NewPush returns a push handler; cfg nil means defaults.
func NewPush(cfg *PushConfig) *Push {
	p := &Push{}
	if cfg != nil {
		p.cfg = *cfg
	}
	if p.cfg.TopicParam == "" {
		p.cfg.TopicParam = DefaultTopicParam
	}
	if p.cfg.MaxTopics <= 0 {
		p.cfg.MaxTopics = DefaultMaxTopics
	}
	if p.cfg.TokenCookie == "" {
		p.cfg.TokenCookie = DefaultTokenCookie
	}
	p.limiter = newCommandLimiter(p.cfg.CommandRate, p.cfg.CommandBurst)
	p.pubs = newCommandLimiter(p.cfg.PublishRate, p.cfg.PublishBurst)
	return p
}

// OnConnect subscribes to the topics named in the URL and the cursor: a bad
// name or too many topics get 400. With Tokens, the token is verified (401)
// and each topic must be one Policy allows (403). Then Auth decides.
func (p *Push) OnConnect(r *Request) error {
	query := r.Query()
	topics := append(query[p.cfg.TopicParam], r.Resumed()...)
	if len(topics) > p.cfg.MaxTopics {
		return Reject(http.StatusBadRequest, "too many topics")
	}
	for _, t := range topics {
		if !codec.ValidTopic(t) {
			return Reject(http.StatusBadRequest, "bad topic name")
		}
	}
	if p.cfg.Tokens != nil {
		if err := p.authenticate(r, query, topics); err != nil {
			return err
		}
	}
	for _, t := range topics {
		r.Subscribe(t)
	}
	if p.cfg.Auth != nil {
		return p.cfg.Auth(r)
	}
	return nil
}

// OnMessage runs a client command. On a worker (Config.Workers) it copies
// the message and posts the command to the session's loop, where
// subscriptions live: commands of one session keep their order either way.
func (p *Push) OnMessage(s *Session, m Message) {
	if !s.OnLoop() {
		data := append([]byte(nil), m.Data...)
		// An error means the server is stopping: the command is moot.
		_ = s.Post(func() { p.OnMessage(s, Message{Op: m.Op, Data: data}) })
		return
	}
	if s.State() != session.StateOpen {
		return // closed while the command waited in the inbox
	}
	if !p.limitCommand(s, m.Data) {
		return
	}
	if !m.Text() {
		p.reply(s, nil, "commands are JSON text messages")
		return
	}
	cmd, err := codec.ParseCommand(m.Data)
	if err != nil {
		p.reply(s, nil, "bad command")
		return
	}
	switch cmd.Op {
	case codec.OpSubscribe:
		if s.NumTopics() >= p.cfg.MaxTopics {
			p.reply(s, cmd.ID, "too many topics")
			return
		}
		if p.cfg.Tokens != nil {
			if ok, reason := p.canSubscribe(s, cmd.Topic, cmd.Token); !ok {
				p.reply(s, cmd.ID, reason)
				return
			}
		}
		s.machinery().SubscribeFrom(cmd.Topic, cmd.Position())
	case codec.OpUnsubscribe:
		s.Unsubscribe(cmd.Topic)
	case codec.OpRefresh:
		p.refresh(s, cmd.ID, cmd.Token) // it replies
		return
	case codec.OpPublish:
		if !p.cfg.ClientPublish {
			p.reply(s, cmd.ID, "publishing is not allowed")
			return
		}
		if p.cfg.Tokens != nil && !p.cfg.Policy.CanPublish(claimsOf(s), cmd.Topic) {
			p.deny(DenyPublish)
			p.reply(s, cmd.ID, ReasonPublishDenied)
			return
		}
		if !p.limitPublish(s, cmd.ID) {
			return
		}
		// In a cluster the reply waits (off the loop) until the cluster
		// holds the publication, so that a client whose publication was
		// lost (NATS restarting) is told so; on one node it is at once.
		// A one-off /send answers with the reply, which may come later.
		id := bytes.Clone(cmd.ID)
		awaitReply(s, true)
		s.machinery().Shard().Hub().PublishThen(cmd.Topic, cmd.PublishPayload(), func(_ uint64, err error) {
			if s.OnLoop() {
				awaitReply(s, false) // at once, as on one node
			}
			switch {
			case err != nil:
				p.reply(s, id, ReasonPublishFailed)
			case len(id) > 0:
				p.reply(s, id, "")
			}
		})
		return
	}
	if len(cmd.ID) > 0 {
		p.reply(s, cmd.ID, "")
	}
}

// ReasonPublishFailed is the error reply to a publish command that did
// not go out: the node's backlog is full, or in a cluster the bus refused
// it, did not answer in time, or lost it (NATS restarting).
const ReasonPublishFailed = "publish failed"

func (p *Push) reply(s *Session, id []byte, reason string) {
	_ = s.Send(codec.OpText, codec.AppendReply(nil, id, reason))
}
