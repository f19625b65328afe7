package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what a verified connection token says.
type Claims struct {
	jwt.RegisteredClaims
	// Topics, when present, lists the topics the client may subscribe to:
	// exact names, or prefixes ending in '*'.
	Topics []string `json:"topics,omitempty"`
	// Publish lists the topics the client may publish to, in the same form.
	Publish []string `json:"publish,omitempty"`
}

// TokenClaims returns c. A session's data that is, or embeds, *Claims
// carries its permissions (server.Push looks for this method).
// Safe for concurrent use.
func (c *Claims) TokenClaims() *Claims { return c }

// Keys are what a Verifier checks signatures with. Each key type pins its
// algorithm: Secrets verify HS256 only, RSA keys RS256 only, ECDSA P-256
// keys ES256 only.
type Keys struct {
	// Secrets are HS256 shared secrets.
	Secrets [][]byte
	// Public are RS256 (*rsa.PublicKey) and ES256 (*ecdsa.PublicKey on
	// P-256) keys. A key ID, when the token's header names one, picks
	// among those that have it (PublicIDs).
	Public []any
	// PublicIDs, when not nil, holds the key ID ("kid") of each Public key,
	// "" for none.
	PublicIDs []string
}

// Config configures a Verifier. Its zero value needs Keys.
type Config struct {
	Keys Keys
	// AllowNoSubject accepts tokens without a sub claim. Off by default: a
	// token names its user.
	AllowNoSubject bool
	// Leeway is the clock skew tolerated on exp and nbf. Zero means none.
	Leeway time.Duration
}

// Verifier checks connection tokens. Safe for concurrent use.
type Verifier struct {
	cfg  Config
	keys atomic.Pointer[keySet]
}

// keySet is Keys sorted by algorithm, swapped whole on a reload.
type keySet struct {
	hs []jwt.VerificationKey
	rs []pubKey
	es []pubKey
}

type pubKey struct {
	kid string
	key jwt.VerificationKey
}

// NewVerifier returns a Verifier, or an error if cfg holds no usable key.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{cfg: cfg}
	if err := v.SetKeys(cfg.Keys); err != nil {
		return nil, err
	}
	return v, nil
}

// SetKeys replaces the verifier's keys: tokens verified from then on use
// the new ones. On an error the old keys stay. Safe for concurrent use.
func (v *Verifier) SetKeys(k Keys) error {
	ks := &keySet{}
	for _, s := range k.Secrets {
		if len(s) == 0 {
			return errors.New("auth: empty HS256 secret")
		}
		ks.hs = append(ks.hs, append([]byte(nil), s...))
	}
	if k.PublicIDs != nil && len(k.PublicIDs) != len(k.Public) {
		return errors.New("auth: PublicIDs and Public differ in length")
	}
	for i, key := range k.Public {
		var kid string
		if k.PublicIDs != nil {
			kid = k.PublicIDs[i]
		}
		switch key := key.(type) {
		case *rsa.PublicKey:
			ks.rs = append(ks.rs, pubKey{kid, key})
		case *ecdsa.PublicKey:
			if key.Curve != elliptic.P256() {
				return fmt.Errorf("auth: ECDSA key on %s: only P-256 (ES256) is supported", key.Curve.Params().Name)
			}
			ks.es = append(ks.es, pubKey{kid, key})
		default:
			return fmt.Errorf("auth: unsupported public key type %T", key)
		}
	}
	if len(ks.hs)+len(ks.rs)+len(ks.es) == 0 {
		return ErrNoKeys
	}
	v.keys.Store(ks)
	return nil
}

// methods lists the algorithms that ks has keys for: a token signed with
// any other is refused before a key is looked at.
func (ks *keySet) methods() []string {
	var m []string
	if len(ks.hs) > 0 {
		m = append(m, jwt.SigningMethodHS256.Alg())
	}
	if len(ks.rs) > 0 {
		m = append(m, jwt.SigningMethodRS256.Alg())
	}
	if len(ks.es) > 0 {
		m = append(m, jwt.SigningMethodES256.Alg())
	}
	return m
}

// keyFor returns the keys that may have signed t: only those of the type
// its algorithm belongs to, so an RSA public key never reaches HMAC.
func (ks *keySet) keyFor(t *jwt.Token) (any, error) {
	var pub []pubKey
	switch t.Method {
	case jwt.SigningMethodHS256:
		return jwt.VerificationKeySet{Keys: ks.hs}, nil
	case jwt.SigningMethodRS256:
		pub = ks.rs
	case jwt.SigningMethodES256:
		pub = ks.es
	default:
		return nil, fmt.Errorf("algorithm %q not allowed", t.Method.Alg())
	}
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range pub {
		if kid == "" || k.kid == "" || k.kid == kid {
			set.Keys = append(set.Keys, k.key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no key %q", kid)
	}
	return set, nil
}

// Verify parses token, checks its signature, exp and nbf, and returns its
// claims. The error wraps ErrExpired, ErrBadToken or ErrNoSubject (or is
// ErrNoToken for ""). Safe for concurrent use.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	ks := v.keys.Load()
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, ks.keyFor,
		jwt.WithValidMethods(ks.methods()), jwt.WithLeeway(v.cfg.Leeway))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	case c.Subject == "" && !v.cfg.AllowNoSubject:
		return nil, ErrNoSubject
	}
	return c, nil
}
