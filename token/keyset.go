package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted from a JWKS.
const minRSABits = 2048

// keySet caches an issuer's JWKS. It refreshes on an unknown key id (the
// rotation strategy of OpenID Connect Core §10.1) and when older than maxAge,
// but at most once per interval, and concurrent lookups share one fetch.
//
// Unlike go-oidc's RemoteKeySet it never refetches for a known kid whose
// signature fails (a forged token would otherwise cost the issuer one
// request each), bounds the response size, starts no goroutine, and tells
// "kid unknown" from "signature invalid" from "issuer unreachable".
type keySet struct {
	url      string
	client   *http.Client
	now      func() time.Time
	interval time.Duration
	maxAge   time.Duration
	logger   *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey // replaced, never mutated
	fetched   time.Time         // last successful fetch
	attempted time.Time         // last fetch started (success or not)
	flight    *keyFlight
}

type keyFlight struct {
	done chan struct{}
	err  error
}

// errThrottled: a refresh was wanted but one was attempted too recently.
type errThrottled struct{ since, interval time.Duration }

func (e *errThrottled) Error() string {
	return fmt.Sprintf("the JWKS was last requested %v ago and is refreshed at most once per %v", e.since.Round(time.Millisecond), e.interval)
}

func (k *keySet) snapshot() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// staleRetry is the least time between refreshes for age alone: when the
// issuer is down, one lookup per staleRetry pays for finding out.
const staleRetry = time.Minute

// stale reports whether the set is older than maxAge and no refresh was
// attempted within staleRetry.
func (k *keySet) stale() bool {
	if k.maxAge <= 0 {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	return now.Sub(k.fetched) > k.maxAge && now.Sub(k.attempted) >= max(k.interval, staleRetry)
}

// refresh fetches the JWKS, joining a fetch already in flight. It returns
// *errThrottled without a request when the last attempt is younger than the
// interval.
func (k *keySet) refresh(ctx context.Context) error {
	for {
		k.mu.Lock()
		if f := k.flight; f != nil {
			k.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if isContextErr(f.err) && ctx.Err() == nil {
				continue // the leader gave up, not us
			}
			return f.err
		}
		now := k.now()
		if !k.attempted.IsZero() {
			if since := now.Sub(k.attempted); since < k.interval {
				k.mu.Unlock()
				return &errThrottled{since: since, interval: k.interval}
			}
		}
		f := &keyFlight{done: make(chan struct{})}
		k.flight = f
		prevAttempt := k.attempted
		k.attempted = now
		k.mu.Unlock()

		keys, err := k.fetch(ctx)

		k.mu.Lock()
		switch {
		case err == nil:
			k.keys, k.fetched = keys, now
		case isContextErr(err):
			k.attempted = prevAttempt // our deadline, not the issuer's fault
		default:
			k.logger.Warn("JWKS refresh failed", "url", k.url, "error", err)
		}
		k.flight = nil
		f.err = err
		close(f.done)
		k.mu.Unlock()
		return err
	}
}

// candidates returns the keys that may have signed a token with this kid,
// refreshing the set when the kid is unknown or the set is stale. Its errors
// are *Error (ReasonUnknownKey or ReasonUnavailable).
func (k *keySet) candidates(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	fresh := false
	if k.stale() {
		// Pick up removed (revoked) keys. A failure keeps the old set: an
		// unreachable issuer must not stop verification of known keys.
		fresh = k.refresh(ctx) == nil
	}
	keys := k.snapshot()
	if m := matchKID(keys, kid); len(m) > 0 {
		return m, nil
	}
	var err error
	if !fresh {
		err = k.refresh(ctx)
	}
	// Look again even after a throttled or failed refresh: a concurrent
	// lookup may have just fetched the key.
	keys = k.snapshot()
	if m := matchKID(keys, kid); len(m) > 0 {
		return m, nil
	}
	if err != nil {
		var th *errThrottled
		if errors.As(err, &th) {
			return nil, reject(ReasonUnavailable, "key id %q is not in the cached JWKS and %v", truncate(kid), th)
		}
		return nil, reject(ReasonUnavailable, "key id %q is not in the cached JWKS and refreshing it failed: %w", truncate(kid), err)
	}
	if kid == "" {
		return nil, reject(ReasonUnknownKey, "token has no key id and the issuer's JWKS (%s) is empty", k.url)
	}
	return nil, reject(ReasonUnknownKey, "key id %q is not in the issuer's JWKS (%s, %d keys, fetched just now)", truncate(kid), k.url, len(keys))
}

// matchKID returns the keys with this kid; a token without kid may have been
// signed by any key.
func matchKID(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	if kid == "" {
		return keys
	}
	for i := range keys {
		if keys[i].KeyID == kid {
			// Kids are unique in any sane JWKS; if not, the first wins, as
			// in go-jose's own JSONWebKeySet.Key lookup order.
			return keys[i : i+1]
		}
	}
	return nil
}

// fetch GETs and parses the JWKS, keeping only public signature keys of a
// supported type and size.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, k.client, "jwks", k.url, &raw); err != nil {
		return nil, err
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(r, &jwk); err != nil {
			// RFC 7517 §5: ignore keys we do not understand.
			k.logger.Debug("JWKS key skipped", "url", k.url, "error", err)
			continue
		}
		if reason := unusable(&jwk); reason != "" {
			k.logger.Debug("JWKS key skipped", "url", k.url, "kid", jwk.KeyID, "reason", reason)
			continue
		}
		keys = append(keys, jwk)
	}
	return keys, nil
}

// unusable says why a JWK cannot verify tokens ("" if it can).
func unusable(jwk *jose.JSONWebKey) string {
	if jwk.Use != "" && jwk.Use != "sig" {
		return "use is " + jwk.Use
	}
	if !jwk.IsPublic() {
		return "not a public key" // a JWKS publishing private or symmetric keys is broken
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return fmt.Sprintf("RSA key of %d bits", pub.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Sprintf("key type %T", jwk.Key)
	}
	return ""
}

// fits reports whether a token signed with alg could have been made with jwk:
// the key type matches the algorithm family (an ECDSA curve its hash), and a
// key that names its algorithm names this one.
func fits(jwk *jose.JSONWebKey, alg string) bool {
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return false
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// describe names a key for messages: "RSA key \"kid\" (alg RS256)".
func describe(jwk *jose.JSONWebKey) string {
	kind := fmt.Sprintf("%T", jwk.Key)
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		kind = "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		kind = "Ed25519"
	}
	s := fmt.Sprintf("%s key %q", kind, jwk.KeyID)
	if jwk.Algorithm != "" {
		s += " (alg " + jwk.Algorithm + ")"
	}
	return s
}
