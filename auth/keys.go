package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// LoadKeys reads public keys from a file: PEM ("PUBLIC KEY", "RSA PUBLIC
// KEY" or "CERTIFICATE" blocks) or a JWKS document (RSA keys, EC keys on
// P-256, and "oct" keys as HS256 secrets).
func LoadKeys(path string) (Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Keys{}, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		k, err := ParseJWKS(t)
		if err != nil {
			return Keys{}, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	k, err := ParsePEM(b)
	if err != nil {
		return Keys{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParsePEM reads every public key of a PEM text.
func ParsePEM(b []byte) (Keys, error) {
	var k Keys
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		var key any
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			return Keys{}, fmt.Errorf("PEM block %q: want a public key or certificate", blk.Type)
		}
		if err != nil {
			return Keys{}, fmt.Errorf("PEM block %q: %w", blk.Type, err)
		}
		k.Public = append(k.Public, key)
	}
	if len(k.Public) == 0 {
		return Keys{}, errors.New("no PEM public key")
	}
	return k, nil
}

// jwk is the part of a JSON Web Key (RFC 7517, 7518) that c1m reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

// ParseJWKS reads a JWK set. Keys for encryption ("use": "enc") are skipped;
// a key whose "alg" is not the one its type pins is an error.
func ParseJWKS(b []byte) (Keys, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return Keys{}, fmt.Errorf("JWKS: %w", err)
	}
	k := Keys{PublicIDs: []string{}}
	for i, j := range set.Keys {
		if j.Use == "enc" {
			continue
		}
		key, alg, err := j.key()
		if err != nil {
			return Keys{}, fmt.Errorf("JWKS key %d (%q): %w", i, j.Kid, err)
		}
		if j.Alg != "" && j.Alg != alg {
			return Keys{}, fmt.Errorf("JWKS key %d (%q): alg %q on a %s key", i, j.Kid, j.Alg, alg)
		}
		if s, ok := key.([]byte); ok {
			k.Secrets = append(k.Secrets, s)
			continue
		}
		k.Public = append(k.Public, key)
		k.PublicIDs = append(k.PublicIDs, j.Kid)
	}
	if len(k.Public)+len(k.Secrets) == 0 {
		return Keys{}, errors.New("JWKS: no signing key")
	}
	return k, nil
}

// key decodes j, and names the algorithm it is pinned to.
func (j *jwk) key() (any, string, error) {
	b64 := base64.RawURLEncoding
	switch j.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, "", errors.New("bad RSA n or e")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, "RS256", nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, "", fmt.Errorf("curve %q: only P-256", j.Crv)
		}
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err := errors.Join(err1, err2); err != nil || len(x) != 32 || len(y) != 32 {
			return nil, "", errors.New("bad EC x or y")
		}
		raw := append(append([]byte{4}, x...), y...)
		key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, "", err
		}
		return key, "ES256", nil
	case "oct":
		k, err := b64.DecodeString(j.K)
		if err != nil || len(k) == 0 {
			return nil, "", errors.New("bad oct k")
		}
		return k, "HS256", nil
	}
	return nil, "", fmt.Errorf("kty %q not supported", j.Kty)
}
