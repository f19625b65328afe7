// Package auth verifies the signed JWT connection tokens of c1m's clients
// and decides which topics a verified client may subscribe and publish to.
//
// A Verifier holds keys: HS256 secrets and RS256 or ES256 public keys. The
// algorithm is pinned by the key's type, so a token cannot pick how it is
// checked: "none" is never accepted, and a public key is never used as an
// HMAC secret (the HS/RS confusion). A Verifier is safe for concurrent use,
// and SetKeys swaps its keys while tokens are being verified (a reload on
// SIGHUP).
//
// A Policy is pure: Policy.CanSubscribe and Policy.CanPublish look only at
// the claims and the topic name.
package auth
