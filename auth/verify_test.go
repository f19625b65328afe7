package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/c1mhq/c1m/auth"
)

var (
	secret = []byte("test-secret-of-enough-length-0123")
	rsaKey = mustRSA()
	ecKey  = mustEC()
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func pemOf(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is a token with alg "none".
func unsigned(t testing.TB, c jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, c)
}

func claims(sub string, exp time.Duration, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"exp": time.Now().Add(exp).Unix()}
	if sub != "" {
		c["sub"] = sub
	}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func TestVerify(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{
		Secrets: [][]byte{secret},
		Public:  []any{&rsaKey.PublicKey, &ecKey.PublicKey},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rsaOnly, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Public: []any{&rsaKey.PublicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	other := mustRSA()
	rsaPEM := pemOf(t, &rsaKey.PublicKey)
	hour := time.Hour
	cases := []struct {
		name    string
		v       *auth.Verifier
		token   string
		wantErr error
		wantSub string
	}{
		{"HS256 valid", v, sign(t, jwt.SigningMethodHS256, secret, claims("ann", hour)), nil, "ann"},
		{"RS256 valid", v, sign(t, jwt.SigningMethodRS256, rsaKey, claims("bob", hour)), nil, "bob"},
		{"ES256 valid", v, sign(t, jwt.SigningMethodES256, ecKey, claims("cid", hour)), nil, "cid"},
		{"no exp is valid", v, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "dan"}), nil, "dan"},
		{"expired", v, sign(t, jwt.SigningMethodHS256, secret, claims("ann", -time.Minute)), auth.ErrExpired, ""},
		{"not yet valid", v, sign(t, jwt.SigningMethodHS256, secret, claims("ann", hour, "nbf", time.Now().Add(hour).Unix())), auth.ErrExpired, ""},
		{"wrong HS secret", v, sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef"), claims("ann", hour)), auth.ErrBadToken, ""},
		{"wrong RSA key", v, sign(t, jwt.SigningMethodRS256, other, claims("ann", hour)), auth.ErrBadToken, ""},
		{"alg none", v, unsigned(t, claims("ann", hour)), auth.ErrBadToken, ""},
		{"HS256 signed with the RSA public key (confusion)", v, sign(t, jwt.SigningMethodHS256, rsaPEM, claims("ann", hour)), auth.ErrBadToken, ""},
		{"HS256 token against an RS256-only verifier", rsaOnly, sign(t, jwt.SigningMethodHS256, rsaPEM, claims("ann", hour)), auth.ErrBadToken, ""},
		{"RS384 not pinned", v, sign(t, jwt.SigningMethodRS384, rsaKey, claims("ann", hour)), auth.ErrBadToken, ""},
		{"missing sub", v, sign(t, jwt.SigningMethodHS256, secret, claims("", hour)), auth.ErrNoSubject, ""},
		{"garbage", v, "not.a.token", auth.ErrBadToken, ""},
		{"empty", v, "", auth.ErrNoToken, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := tc.v.Verify(tc.token)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify: error %v, want %v", err, tc.wantErr)
			}
			if err == nil && c.Subject != tc.wantSub {
				t.Fatalf("sub %q, want %q", c.Subject, tc.wantSub)
			}
		})
	}
}

func TestVerifyAllowNoSubject(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{secret}}, AllowNoSubject: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, claims("", time.Hour))); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyClaims(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{secret}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret,
		claims("ann", time.Hour, "topics", []string{"news", "private:ann*"}, "publish", []string{"chat:*"})))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Topics) != 2 || c.Topics[1] != "private:ann*" || len(c.Publish) != 1 || c.Publish[0] != "chat:*" {
		t.Fatalf("claims %+v", c)
	}
}

func TestNoKeys(t *testing.T) {
	t.Parallel()
	if _, err := auth.NewVerifier(auth.Config{}); !errors.Is(err, auth.ErrNoKeys) {
		t.Fatalf("error %v, want ErrNoKeys", err)
	}
	bad, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Public: []any{&bad.PublicKey}}}); err == nil {
		t.Fatal("a P-384 key was accepted for ES256")
	}
}

// TestSetKeys rotates keys: tokens of the old key fail, of the new pass.
func TestSetKeys(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{Keys: auth.Keys{Secrets: [][]byte{secret}}})
	if err != nil {
		t.Fatal(err)
	}
	old := sign(t, jwt.SigningMethodHS256, secret, claims("ann", time.Hour))
	if err := v.SetKeys(auth.Keys{Public: []any{&rsaKey.PublicKey}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(old); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("old key's token after rotation: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, rsaKey, claims("ann", time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := v.SetKeys(auth.Keys{}); err == nil {
		t.Fatal("SetKeys with no key succeeded")
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, rsaKey, claims("ann", time.Hour))); err != nil {
		t.Fatalf("a failed SetKeys dropped the keys: %v", err)
	}
}

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "keys.pem")
	if err := os.WriteFile(pemFile, append(pemOf(t, &rsaKey.PublicKey), pemOf(t, &ecKey.PublicKey)...), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "alg": "RS256", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64.EncodeToString(ecKey.X.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(ecKey.Y.FillBytes(make([]byte, 32)))},
		{"kty": "oct", "kid": "h1", "k": b64.EncodeToString(secret)},
	}})
	jwksFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{pemFile, jwksFile} {
		k, err := auth.LoadKeys(file)
		if err != nil {
			t.Fatal(err)
		}
		v, err := auth.NewVerifier(auth.Config{Keys: k})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{
			sign(t, jwt.SigningMethodRS256, rsaKey, claims("ann", time.Hour)),
			sign(t, jwt.SigningMethodES256, ecKey, claims("ann", time.Hour)),
		} {
			if _, err := v.Verify(tok); err != nil {
				t.Errorf("%s: %v", filepath.Base(file), err)
			}
		}
		// The confusion: the RSA key's PEM text as an HMAC secret.
		if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, pemOf(t, &rsaKey.PublicKey), claims("ann", time.Hour))); !errors.Is(err, auth.ErrBadToken) {
			t.Errorf("%s: HS256 with the public key as secret: %v", filepath.Base(file), err)
		}
	}
	// A kid picks its key: the RSA key under the EC key's kid fails.
	k, _ := auth.LoadKeys(jwksFile)
	v, _ := auth.NewVerifier(auth.Config{Keys: k})
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims("ann", time.Hour))
	tok.Header["kid"] = "e1"
	s, _ := tok.SignedString(rsaKey)
	if _, err := v.Verify(s); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("RS256 token with an unknown RSA kid: %v", err)
	}
}
