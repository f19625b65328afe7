package auth

import "errors"

// Reasons a token is refused. Verify wraps the library's error in one of
// them, so that callers can answer and count by reason.
var (
	// ErrNoToken: the request carries no token.
	ErrNoToken = errors.New("auth: no token")
	// ErrExpired: the token's exp has passed (or its nbf is still ahead).
	ErrExpired = errors.New("auth: token expired")
	// ErrBadToken: the token is malformed, its signature does not verify,
	// or its algorithm is not one a configured key allows ("none" never is).
	ErrBadToken = errors.New("auth: invalid token")
	// ErrNoSubject: the token has no sub claim and the Verifier requires one.
	ErrNoSubject = errors.New("auth: token has no sub")
	// ErrNoKeys: a Verifier was configured without any key.
	ErrNoKeys = errors.New("auth: no keys")
)
