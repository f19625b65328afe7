package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Tokens over the connection: the refresh command, a token in the
// subscribe command, and the WWW-Authenticate challenge of 401 and 403
// answers (RFC 6750).

// Reasons of refused refreshes and subscription tokens, in command
// replies.
const (
	// ReasonNoTokens: the server verifies no tokens (PushConfig.Tokens).
	ReasonNoTokens = "tokens are off on this server"
	// ReasonNoSessionToken: the session opened without a token, or its
	// handler's Auth replaced the token's data: there is none to refresh.
	ReasonNoSessionToken = "session has no token to refresh"
	// ReasonOtherUser: the token's sub is not the session's user.
	ReasonOtherUser = "token of another user"
)

// armExpiry starts the timer that closes s when its token's exp passes,
// replacing the one of an earlier token. The timer only posts to the
// session's loop, where the session is closed if it is still the one
// that presented ts and ts's exp (which a refresh may have moved) has
// passed. Runs on the loop or, for OnOpen, on a worker.
func (p *Push) armExpiry(s *Session, ts *tokenSession) {
	if ts.expiry != nil {
		ts.expiry.Stop()
		ts.expiry = nil
	}
	if ts.ExpiresAt == nil {
		return
	}
	id := s.ID()
	ts.expiry = time.AfterFunc(time.Until(ts.ExpiresAt.Time)+p.expiryDelay, func() {
		// On the loop, and only if the session is still the one that
		// presented the token: its memory may serve another by now.
		_ = s.Post(func() {
			if s.ID() != id || s.State() != session.StateOpen || s.Data() != any(ts) {
				return
			}
			if !ts.expired(time.Now()) {
				p.armExpiry(s, ts) // refreshed meanwhile, or a timer early on the wall clock
				return
			}
			p.deny(DenyExpiredSession)
			_ = s.Close(codec.StatusPolicyViolation, ReasonTokenExpired)
		})
	})
}

// expired reports whether the session's token has passed its exp at now.
func (ts *tokenSession) expired(now time.Time) bool {
	return ts.ExpiresAt != nil && !now.Before(ts.ExpiresAt.Time)
}

// refresh replaces s's token with token, whose sub must be the session's:
// the session's expiry moves to the new exp, its topic rights become the
// new claims', and the topics these no longer allow are unsubscribed
// (but for those a subscription token granted). The reply says ok (when
// the command has an id) or why not; a session whose token expired
// already is closed with 1008 "token expired" after that reply.
// Loop-only.
func (p *Push) refresh(s *Session, id []byte, token string) {
	ts, ok := s.Data().(*tokenSession)
	switch {
	case p.cfg.Tokens == nil:
		p.reply(s, id, ReasonNoTokens)
		return
	case !ok:
		p.deny(DenyRefresh)
		p.reply(s, id, ReasonNoSessionToken)
		return
	case ts.expired(time.Now()):
		// Too late: the old token no longer vouches for the session.
		p.deny(DenyRefreshExpired)
		p.reply(s, id, ReasonTokenExpired)
		_ = s.Close(codec.StatusPolicyViolation, ReasonTokenExpired)
		return
	}
	c, err := p.cfg.Tokens.Verify(token)
	if err != nil {
		d, reason := tokenDenial(err)
		p.deny(d)
		p.reply(s, id, reason)
		return
	}
	if c.Subject != ts.Subject {
		p.deny(DenyRefresh)
		p.reply(s, id, ReasonOtherUser)
		return
	}
	ts.Claims = c
	for _, t := range s.Topics() {
		if !strings.HasPrefix(t, "$") && !ts.grants(t) && !p.cfg.Policy.CanSubscribe(c, t) {
			s.Unsubscribe(t)
		}
	}
	p.armExpiry(s, ts)
	if len(id) > 0 {
		p.reply(s, id, "")
	}
}

// canSubscribe reports whether s may subscribe to topic: by its own
// claims, or by token, a subscription token whose claims allow the topic
// and whose sub is the session's user. A topic a token granted is kept
// through the session's refreshes, until that token's own exp (a subscribe
// with a newer token moves it; grants.go). It returns the reason of a
// refusal.
// Loop-only.
func (p *Push) canSubscribe(s *Session, topic, token string) (bool, string) {
	if p.cfg.Policy.CanSubscribe(claimsOf(s), topic) {
		return true, ""
	}
	if token == "" {
		p.deny(DenySubscribe)
		return false, ReasonTopicDenied
	}
	c, err := p.cfg.Tokens.Verify(token)
	if err != nil {
		d, reason := tokenDenial(err)
		p.deny(d)
		return false, reason
	}
	ts, ok := s.Data().(*tokenSession)
	if !ok || c.Subject != ts.Subject {
		p.deny(DenySubscribe)
		return false, ReasonOtherUser
	}
	if !p.cfg.Policy.CanSubscribe(c, topic) {
		p.deny(DenySubscribe)
		return false, ReasonTopicDenied
	}
	p.grant(s, ts, topic, c)
	return true, ""
}

// challenge returns the WWW-Authenticate header line of a refusal
// (RFC 6750 section 3): none when the request had no token, invalid_token
// for a token that failed, insufficient_scope for a topic outside it.
func challenge(status int, d Denial, reason string) string {
	const line = "WWW-Authenticate: Bearer"
	switch {
	case d == DenyTokenRequired:
		return line + "\r\n"
	case status == http.StatusForbidden:
		return line + ` error="insufficient_scope", error_description="` + reason + `"` + "\r\n"
	}
	return line + ` error="invalid_token", error_description="` + reason + `"` + "\r\n"
}
