package server

import (
	"slices"
	"strings"
	"time"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/session"
)

// Topics granted by subscription tokens, and their expiry. A token in the
// subscribe command grants its topic until the token's own exp: then the
// session is unsubscribed from the topic, unless its own claims allow it
// by then, and told so with {"op":"unsubscribed","topic":T,"error":"token
// expired"}. A subscribe with a newer token for the topic before that
// moves the grant's end; a token without exp grants for the session's
// life.

// grant is a topic a subscription token granted, until exp (zero: no end).
type grant struct {
	topic string
	exp   time.Time
}

// grants reports whether a subscription token granted topic. Loop-only.
func (ts *tokenSession) grants(topic string) bool {
	return slices.ContainsFunc(ts.granted, func(g grant) bool { return g.topic == topic })
}

// grant records that c granted topic to s, replacing an earlier grant of
// the topic, and arms the timer of the first grant to end. Loop-only.
func (p *Push) grant(s *Session, ts *tokenSession, topic string, c *auth.Claims) {
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	if i := slices.IndexFunc(ts.granted, func(g grant) bool { return g.topic == topic }); i >= 0 {
		ts.granted[i].exp = exp
	} else {
		ts.granted = append(ts.granted, grant{topic: topic, exp: exp})
	}
	p.armGrants(s, ts)
}

// armGrants starts the timer of the first grant of ts to end, replacing
// the one before. As armExpiry's, the timer only posts to the session's
// loop, where the grants that ended are taken back if the session is
// still the one that holds ts. Loop-only.
func (p *Push) armGrants(s *Session, ts *tokenSession) {
	if ts.grantTimer != nil {
		ts.grantTimer.Stop()
		ts.grantTimer = nil
	}
	var first time.Time
	for _, g := range ts.granted {
		if !g.exp.IsZero() && (first.IsZero() || g.exp.Before(first)) {
			first = g.exp
		}
	}
	if first.IsZero() {
		return
	}
	id := s.ID()
	ts.grantTimer = time.AfterFunc(time.Until(first)+p.expiryDelay, func() {
		_ = s.Post(func() {
			if s.ID() != id || s.State() != session.StateOpen || s.Data() != any(ts) {
				return
			}
			p.endGrants(s, ts, time.Now())
			p.armGrants(s, ts)
		})
	})
}

// endGrants takes back the grants of ts that ended at now: the session
// leaves each such topic its own claims do not allow, and is told.
// Loop-only.
func (p *Push) endGrants(s *Session, ts *tokenSession, now time.Time) {
	ts.granted = slices.DeleteFunc(ts.granted, func(g grant) bool {
		if g.exp.IsZero() || now.Before(g.exp) {
			return false
		}
		if !strings.HasPrefix(g.topic, "$") && slices.Contains(s.Topics(), g.topic) && !p.cfg.Policy.CanSubscribe(claimsOf(s), g.topic) {
			s.Unsubscribe(g.topic)
			p.deny(DenyGrantExpired)
			_ = s.Send(codec.OpText, codec.AppendUnsubscribed(nil, g.topic, ReasonTokenExpired))
		}
		return true
	})
}
