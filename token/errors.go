package token

import (
	"errors"
	"fmt"
)

// Reason says why Verify rejected a token. Its string is stable: callers put
// it in dead-letter headers and metrics.
type Reason string

// The reasons Verify reports. Every rejection carries exactly one.
const (
	ReasonMissing     Reason = "missing"       // no token: empty header or "Bearer " alone
	ReasonMalformed   Reason = "malformed"     // not a compact JWS JWT, oversized, bad claims JSON, not an access token
	ReasonAlgorithm   Reason = "algorithm"     // alg not allowed ("none", HS*, …) or not fitting the key
	ReasonSignature   Reason = "signature"     // a known key, but the signature does not verify
	ReasonUnknownKey  Reason = "unknown_key"   // kid absent from the issuer's JWKS, even after a refresh
	ReasonExpired     Reason = "expired"       // exp + leeway is past
	ReasonNotYetValid Reason = "not_yet_valid" // nbf or iat is later than now + leeway
	ReasonIssuer      Reason = "issuer"        // iss is not the configured issuer
	ReasonAudience    Reason = "audience"      // aud does not contain the configured audience
	ReasonClient      Reason = "client"        // no client claim, or the client may not do this
	// ReasonUnavailable is the one reason that is not the token's fault: the
	// issuer's key set could not be fetched (or a refresh was throttled) while
	// the token's key id was unknown. Retrying later may succeed.
	ReasonUnavailable Reason = "unavailable"
)

// Sentinels matched by errors.Is against an *Error of the same Reason.
var (
	ErrMissing     = errors.New("token missing")
	ErrMalformed   = errors.New("token malformed")
	ErrAlgorithm   = errors.New("token algorithm not allowed")
	ErrSignature   = errors.New("token signature invalid")
	ErrUnknownKey  = errors.New("token signing key unknown")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
	ErrIssuer      = errors.New("token issuer not trusted")
	ErrAudience    = errors.New("token audience mismatch")
	ErrClient      = errors.New("token client not allowed")
	ErrUnavailable = errors.New("token keys unavailable")
)

// Sentinel returns the errors.Is sentinel of r (nil for an unknown reason).
func (r Reason) Sentinel() error {
	switch r {
	case ReasonMissing:
		return ErrMissing
	case ReasonMalformed:
		return ErrMalformed
	case ReasonAlgorithm:
		return ErrAlgorithm
	case ReasonSignature:
		return ErrSignature
	case ReasonUnknownKey:
		return ErrUnknownKey
	case ReasonExpired:
		return ErrExpired
	case ReasonNotYetValid:
		return ErrNotYetValid
	case ReasonIssuer:
		return ErrIssuer
	case ReasonAudience:
		return ErrAudience
	case ReasonClient:
		return ErrClient
	case ReasonUnavailable:
		return ErrUnavailable
	}
	return nil
}

// Error is a rejected (or, for ReasonUnavailable, unverifiable) token.
// Err says exactly what failed; it never contains the token itself.
type Error struct {
	Reason Reason
	Err    error
}

// Error implements error: "token expired: token expired at …, now …".
func (e *Error) Error() string {
	if e.Err == nil {
		return "token " + string(e.Reason)
	}
	return "token " + string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap returns the detail error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e.Reason, so errors.Is(err, token.ErrExpired)
// works through any wrapping.
func (e *Error) Is(target error) bool {
	s := e.Reason.Sentinel()
	return s != nil && target == s
}

// Temporary reports whether retrying later may succeed (ReasonUnavailable).
func (e *Error) Temporary() bool { return e.Reason == ReasonUnavailable }

// reject builds an *Error with a formatted detail.
func reject(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}

// Sentinels of *FetchError kinds: why a Source (or a Verifier's discovery and
// key fetch) could not get what it needed from the issuer.
var (
	// ErrUnreachable: no HTTP response (DNS, refused, timeout, TLS).
	ErrUnreachable = errors.New("issuer unreachable")
	// ErrDiscovery: the discovery document or key set was unusable (non-200,
	// bad JSON, issuer mismatch, missing endpoint, too large).
	ErrDiscovery = errors.New("issuer discovery failed")
	// ErrInvalidClient: the token endpoint rejected the client credentials
	// (invalid_client, unauthorized_client or HTTP 401).
	ErrInvalidClient = errors.New("client credentials rejected")
	// ErrTokenEndpoint: any other token endpoint failure (invalid_scope, 5xx,
	// a response without a Bearer access token).
	ErrTokenEndpoint = errors.New("token endpoint failed")
)

// FetchError is a failed request to the issuer. It never holds the client
// secret or the response body: only the OAuth2 error code and description.
type FetchError struct {
	Op          string // "discovery", "jwks" or "token"
	URL         string // the endpoint requested
	ClientID    string // the client, for Op "token"
	StatusCode  int    // HTTP status; 0 when there was no response
	Code        string // OAuth2 "error", e.g. "invalid_client"
	Description string // OAuth2 "error_description", at most 200 bytes
	Kind        error  // ErrUnreachable, ErrDiscovery, ErrInvalidClient or ErrTokenEndpoint
	Err         error  // the cause, if any (a transport error, a decode error)
}

// Error implements error.
func (e *FetchError) Error() string {
	msg := "token: " + e.Op + " " + e.URL
	if e.ClientID != "" {
		msg += fmt.Sprintf(" for client %q", e.ClientID)
	}
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += fmt.Sprintf(" (%q)", e.Description)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind sentinel and the cause, so errors.Is matches both
// token.ErrInvalidClient and, say, context.DeadlineExceeded.
func (e *FetchError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
