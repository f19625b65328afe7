package auth

import "strings"

// Policy decides which topics a client may use, from its claims (nil for
// an anonymous client) and the topic's name. Its zero value applies the
// defaults: "private:" topics need a claim, "user:<sub>:" topics belong to
// their sub.
type Policy struct {
	// Protected lists prefixes of topics that only a topics (or publish)
	// claim can allow. Nil means DefaultProtected; empty protects none.
	Protected []string
	// UserPrefix starts the topics of one user: UserPrefix + sub, alone or
	// followed by ':' and more, is open to that sub and to no one else
	// whatever their claims. Zero means DefaultUserPrefix; "-" disables.
	UserPrefix string
}

// Defaults of Policy.
const (
	DefaultUserPrefix = "user:"
	noUserPrefix      = "-"
)

// DefaultProtected is the prefix list of a Policy whose Protected is nil.
var DefaultProtected = []string{"private:"}

// CanSubscribe reports whether a client with claims c (nil: anonymous) may
// subscribe to topic. A topics claim, when present, lists all the topics
// the client may have, besides its own user topics. Safe for concurrent use.
func (p *Policy) CanSubscribe(c *Claims, topic string) bool {
	var allowed []string
	if c != nil {
		allowed = c.Topics
	}
	return p.can(c, allowed, topic)
}

// CanPublish reports whether a client with claims c may publish to topic.
// A publish claim, when present, lists all the topics the client may
// publish to, besides its own user topics; without one, only unprotected
// topics. Safe for concurrent use.
func (p *Policy) CanPublish(c *Claims, topic string) bool {
	var allowed []string
	if c != nil {
		allowed = c.Publish
	}
	return p.can(c, allowed, topic)
}

func (p *Policy) can(c *Claims, allowed []string, topic string) bool {
	if owner, ok := p.owner(topic); ok {
		return c != nil && c.Subject != "" && c.Subject == owner
	}
	if allowed != nil {
		return Match(allowed, topic)
	}
	protected := p.Protected
	if protected == nil {
		protected = DefaultProtected
	}
	for _, pre := range protected {
		if strings.HasPrefix(topic, pre) {
			return false
		}
	}
	return true
}

// owner returns the user a user topic belongs to.
func (p *Policy) owner(topic string) (string, bool) {
	pre := p.UserPrefix
	switch pre {
	case "":
		pre = DefaultUserPrefix
	case noUserPrefix:
		return "", false
	}
	rest, ok := strings.CutPrefix(topic, pre)
	if !ok {
		return "", false
	}
	owner, _, _ := strings.Cut(rest, ":")
	return owner, true
}

// Match reports whether topic matches one of patterns: an exact name, or
// a prefix followed by '*' ("news:*" matches "news:a"; "*" matches all).
func Match(patterns []string, topic string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(topic, pre) {
				return true
			}
		} else if p == topic {
			return true
		}
	}
	return false
}
