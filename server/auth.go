package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/c1mhq/c1m/auth"
)

// Reasons of Push's authentication refusals: the body of a 401 or 403
// answer, or the error of a command's reply.
const (
	ReasonTokenRequired = "token required"
	ReasonTokenExpired  = "token expired"
	ReasonTokenInvalid  = "invalid token"
	ReasonNoSubject     = "token has no sub"
	ReasonTopicDenied   = "topic not allowed"
	ReasonPublishDenied = "publishing to this topic is not allowed"
)

// Denial is why Push refused a request or a command, for its counters.
type Denial uint8

// Denials, as counted by Push.Denials.
const (
	DenyTokenRequired  Denial = iota // no token, with TokenRequired
	DenyTokenExpired                 // exp passed or nbf ahead
	DenyTokenInvalid                 // malformed, bad signature, or algorithm not allowed
	DenyNoSubject                    // no sub claim
	DenyTopic                        // a topic at connect (URL or cursor) outside the policy
	DenySubscribe                    // a subscribe command outside the policy
	DenyPublish                      // a publish command outside the policy
	DenyExpiredSession               // an open session closed when its token expired
	DenyRefresh                      // a refresh of a session without a token, or with another user's
	DenyRefreshExpired               // a refresh that came after the session's token expired
	DenyCommandRate                  // a command over PushConfig.CommandRate
	DenyPublishRate                  // a publish command over PushConfig.PublishRate
	DenyGrantExpired                 // a topic a subscription token granted, ended when the token expired
	numDenials
)

var denialNames = [numDenials]string{"token_required", "token_expired", "token_invalid", "no_sub", "topic", "subscribe", "publish", "session_expired",
	"refresh", "refresh_expired", "command_rate", "publish_rate", "subscription_expired"}

// String returns the denial's metric label.
func (d Denial) String() string { return denialNames[d] }

// AllDenials lists every Denial, in order.
func AllDenials() []Denial {
	out := make([]Denial, numDenials)
	for i := range out {
		out[i] = Denial(i)
	}
	return out
}

// denialCounts counts refusals by reason. The counters are shared by the
// loops: a refusal is rare next to a message, so one atomic add is cheap.
type denialCounts [numDenials]atomic.Uint64

// Denials returns how many requests and commands Push refused for d since
// it started. Safe for concurrent use.
func (p *Push) Denials(d Denial) uint64 { return p.denials[d].Load() }

// deny counts d and returns it.
func (p *Push) deny(d Denial) Denial {
	p.denials[d].Add(1)
	return d
}

// tokenParam is the query parameter that may carry a connection token.
const tokenParam = "token"

// claimsHolder is a session's data that carries token claims: *auth.Claims,
// or an embedder's value that embeds it.
type claimsHolder interface{ TokenClaims() *auth.Claims }

// claimsOf returns the claims of s's token, nil for an anonymous session.
// Loop-only.
func claimsOf(s *Session) *auth.Claims {
	if h, ok := s.Data().(claimsHolder); ok {
		return h.TokenClaims()
	}
	return nil
}

// authenticate verifies r's token, if any, and checks topics against the
// policy. A verified token's sub becomes the session's user, and its
// claims the session's data (a *tokenSession). Auth may replace the data
// with its own value that embeds the claims (claimsHolder) to keep the
// topic rules; the session then has no expiry. Loop-only.
func (p *Push) authenticate(r *Request, query url.Values, topics []string) error {
	token := requestToken(r, query, p.cfg.TokenCookie)
	var claims *auth.Claims
	if token != "" || p.cfg.TokenRequired {
		c, err := p.cfg.Tokens.Verify(token)
		if err != nil {
			d, reason := tokenDenial(err)
			p.deny(d)
			return RejectWith(http.StatusUnauthorized, reason, challenge(http.StatusUnauthorized, d, reason))
		}
		claims = c
	}
	for _, t := range topics {
		if !p.cfg.Policy.CanSubscribe(claims, t) {
			p.deny(DenyTopic)
			return RejectWith(http.StatusForbidden, ReasonTopicDenied, challenge(http.StatusForbidden, DenyTopic, ReasonTopicDenied))
		}
	}
	if claims != nil {
		if claims.Subject != "" {
			r.SetUser(claims.Subject)
		}
		r.SetData(&tokenSession{Claims: claims})
	}
	return nil
}

// tokenSession is the data of a session that presented a token: its claims
// (a refresh replaces them), the timer that closes it when the token
// expires, and the topics subscription tokens granted with the timer that
// ends the first of them to expire (refresh.go, grants.go).
type tokenSession struct {
	*auth.Claims
	expiry     *time.Timer
	granted    []grant
	grantTimer *time.Timer
}

// OnOpen starts the expiry of a session whose token has an exp: when it
// passes, the session is closed with 1008 "token expired" (a poll, which
// presents its token again each time, is refused with 401 after that).
// A session whose data Auth replaced has no expiry. A refresh command
// moves it (refresh.go).
// Runs where Handler.OnOpen runs: the loop, or a worker.
func (p *Push) OnOpen(s *Session) {
	if ts, ok := s.Data().(*tokenSession); ok {
		p.armExpiry(s, ts)
	}
}

// OnClose stops the session's expiry timer, if any, and forgets its
// command and publish buckets. Runs where Handler.OnClose runs: the loop, or a worker.
func (p *Push) OnClose(s *Session, _ StatusCode, _ string) {
	if p.limiter != nil {
		p.limiter.forget(s.ID())
	}
	if p.pubs != nil {
		p.pubs.forget(s.ID())
	}
	if ts, ok := s.Data().(*tokenSession); ok {
		if ts.expiry != nil {
			ts.expiry.Stop()
		}
		if ts.grantTimer != nil {
			ts.grantTimer.Stop()
		}
	}
}

// tokenDenial names why err refused a token.
func tokenDenial(err error) (Denial, string) {
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return DenyTokenRequired, ReasonTokenRequired
	case errors.Is(err, auth.ErrExpired):
		return DenyTokenExpired, ReasonTokenExpired
	case errors.Is(err, auth.ErrNoSubject):
		return DenyNoSubject, ReasonNoSubject
	}
	return DenyTokenInvalid, ReasonTokenInvalid
}

// requestToken finds r's connection token: the token query parameter, then
// "Authorization: Bearer", then the cookie. "" when there is none.
func requestToken(r *Request, query url.Values, cookie string) string {
	if t := query.Get(tokenParam); t != "" {
		return t
	}
	if h := r.Header("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t)
		}
	}
	// By hand rather than http.ParseCookie, which refuses the whole line
	// for one malformed cookie of another site's script.
	for part := range strings.SplitSeq(r.Header("Cookie"), ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && name == cookie {
			return strings.Trim(value, `"`)
		}
	}
	return ""
}
