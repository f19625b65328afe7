package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/c1mhq/c1m/auth"
	"github.com/c1mhq/c1m/server"
)

// configureAuth sets pc's token verification from the -auth flags.
func configureAuth(o *options, pc *server.PushConfig) error {
	switch o.authMode {
	case "off":
		if o.jwtSecret != "" || o.jwtKeys != "" {
			slog.Warn("c1m: -jwt-secret and -jwt-keys are ignored with -auth off")
		}
		return nil
	case "optional":
	case "required":
		pc.TokenRequired = true
	default:
		return fmt.Errorf("-auth %q: want off, optional or required", o.authMode)
	}
	keys, err := loadKeys(o)
	if err != nil {
		return err
	}
	v, err := auth.NewVerifier(auth.Config{Keys: keys})
	if errors.Is(err, auth.ErrNoKeys) {
		return fmt.Errorf("-auth %s needs -jwt-secret or -jwt-keys", o.authMode)
	}
	if err != nil {
		return err
	}
	pc.Tokens = v
	pc.TokenCookie = o.authCookie
	pc.Policy = auth.Policy{Protected: []string{}, UserPrefix: o.userPrefix}
	for p := range strings.SplitSeq(o.protected, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pc.Policy.Protected = append(pc.Policy.Protected, p)
		}
	}
	return nil
}

// loadKeys reads the keys the flags name: the -jwt-secret and the file.
func loadKeys(o *options) (auth.Keys, error) {
	var keys auth.Keys
	if o.jwtKeys != "" {
		k, err := auth.LoadKeys(o.jwtKeys)
		if err != nil {
			return auth.Keys{}, fmt.Errorf("-jwt-keys: %w", err)
		}
		keys = k
	}
	if o.jwtSecret != "" {
		keys.Secrets = append(keys.Secrets, []byte(o.jwtSecret))
	}
	return keys, nil
}

// reloadOnHangup reads the keys again on each SIGHUP until the returned
// stop is called: keys rotate without a restart. A file that fails to load
// leaves the keys in use. The signal is caught from the return on, so a
// SIGHUP after the ready line never kills the process.
func reloadOnHangup(o *options, v *auth.Verifier) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			keys, err := loadKeys(o)
			if err == nil {
				err = v.SetKeys(keys)
			}
			if err != nil {
				slog.Error("c1m: SIGHUP: keys not reloaded, the old ones stay", "err", err)
				continue
			}
			slog.Info("c1m: SIGHUP: keys reloaded", "file", o.jwtKeys, "secrets", len(keys.Secrets), "public", len(keys.Public))
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}
