package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

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
// claims the session's data (which Auth may wrap: claimsHolder). Loop-only.
func (p *Push) authenticate(r *Request, query url.Values, topics []string) error {
	token := requestToken(r, query, p.cfg.TokenCookie)
	var claims *auth.Claims
	if token != "" || p.cfg.TokenRequired {
		c, err := p.cfg.Tokens.Verify(token)
		if err != nil {
			return Reject(http.StatusUnauthorized, tokenReason(err))
		}
		claims = c
	}
	for _, t := range topics {
		if !p.cfg.Policy.CanSubscribe(claims, t) {
			return Reject(http.StatusForbidden, ReasonTopicDenied)
		}
	}
	if claims != nil {
		if claims.Subject != "" {
			r.SetUser(claims.Subject)
		}
		r.SetData(claims)
	}
	return nil
}

// tokenReason names why err refused a token.
func tokenReason(err error) string {
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return ReasonTokenRequired
	case errors.Is(err, auth.ErrExpired):
		return ReasonTokenExpired
	case errors.Is(err, auth.ErrNoSubject):
		return ReasonNoSubject
	}
	return ReasonTokenInvalid
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
