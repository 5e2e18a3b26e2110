package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Secret is a string that does not print: fmt, log/slog and encoding/json
// all see "[redacted]", so a logged SourceConfig leaks nothing.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return `"[redacted]"` }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText implements encoding.TextMarshaler (JSON, YAML).
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Default refresh policy of a Source.
const (
	// DefaultRefreshMargin is the least time before expiry at which a Source
	// fetches a new token (more when 10% of the lifetime is more).
	DefaultRefreshMargin = 30 * time.Second
	// defaultLifetime is assumed when the token endpoint omits expires_in.
	defaultLifetime = time.Minute
	// retryAfterFailure: while the cached token is still valid, a failed
	// refresh is not retried sooner than this, so callers keep publishing
	// and the issuer is not hammered.
	retryAfterFailure = 5 * time.Second
	// minRemaining: a cached token with less left than this is not handed
	// out after a failed refresh; the consumer would likely see it expired.
	minRemaining = 5 * time.Second
)

// SourceConfig configures a Source.
type SourceConfig struct {
	// Issuer is the OIDC issuer URL, e.g.
	// "https://keycloak.example/realms/inopsio". Required.
	Issuer string
	// ClientID and ClientSecret are the service's client credentials.
	// Required. The secret is sent as HTTP Basic auth (client_secret_basic).
	ClientID     string
	ClientSecret Secret
	// Scopes are requested as the "scope" parameter (optional).
	Scopes []string
	// Audience, when set, is sent as the "audience" parameter. Keycloak
	// ignores it (its aud claim comes from Audience protocol mappers); other
	// servers (Auth0, Ory) use it.
	Audience string
	// HTTPClient makes the discovery and token requests. Default: a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// RefreshBefore is how long before expiry the cached token is replaced.
	// Default (0): the larger of 30 s and 10% of the token's lifetime, capped
	// at half the lifetime.
	RefreshBefore time.Duration
	// Logger receives refresh failures that were absorbed by a still-valid
	// token. Default: discard.
	Logger *slog.Logger
}

func (c SourceConfig) withDefaults() (SourceConfig, error) {
	switch {
	case c.Issuer == "":
		return c, errors.New("token: SourceConfig.Issuer is required")
	case c.ClientID == "":
		return c, errors.New("token: SourceConfig.ClientID is required")
	case c.ClientSecret == "":
		return c, fmt.Errorf("token: SourceConfig.ClientSecret is required (client %q)", c.ClientID)
	case c.RefreshBefore < 0:
		return c, fmt.Errorf("token: SourceConfig.RefreshBefore %v is negative", c.RefreshBefore)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Source fetches the service's access token with the OAuth2 client
// credentials grant and caches it. It is safe for concurrent use; concurrent
// callers that need a new token share one request.
type Source struct {
	cfg      SourceConfig
	endpoint string
	cc       clientcredentials.Config

	mu     sync.Mutex
	cached *cachedToken
	flight *sourceFlight
	// retryAt: no refresh before this time while cached is still usable.
	retryAt time.Time
}

type cachedToken struct {
	value     string
	header    string // "Bearer " + value, built once: Header runs per record
	expiry    time.Time
	refreshAt time.Time
}

type sourceFlight struct {
	done chan struct{}
	tok  *cachedToken
	err  error
}

// NewSource discovers the issuer's token endpoint
// ("<issuer>/.well-known/openid-configuration") and returns a Source. It
// fetches no token yet: the first Token call does.
func NewSource(ctx context.Context, cfg SourceConfig) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := discover(ctx, cfg.HTTPClient, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, endpoint: m.TokenEndpoint}
	s.cc = clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: string(cfg.ClientSecret),
		TokenURL:     m.TokenEndpoint,
		Scopes:       cfg.Scopes,
		// Explicit: auto-detection would retry a rejected secret in the
		// request body, doubling every failure.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if cfg.Audience != "" {
		s.cc.EndpointParams = url.Values{"audience": {cfg.Audience}}
	}
	return s, nil
}

// TokenEndpoint returns the token endpoint found by discovery.
func (s *Source) TokenEndpoint() string { return s.endpoint }

// Header returns the authorization header value, "Bearer <token>".
func (s *Source) Header(ctx context.Context) (string, error) {
	c, err := s.get(ctx)
	if err != nil {
		return "", err
	}
	return c.header, nil
}

// Token returns the cached access token, fetching a new one first when none
// is cached or the cached one is within its refresh margin. If that refresh
// fails while the cached token still has at least 5 s left, the cached token
// is returned (and the failure logged); the refresh is retried 5 s later.
func (s *Source) Token(ctx context.Context) (string, error) {
	c, err := s.get(ctx)
	if err != nil {
		return "", err
	}
	return c.value, nil
}

// get returns the token to use now; see Token.
func (s *Source) get(ctx context.Context) (*cachedToken, error) {
	for {
		s.mu.Lock()
		now := s.cfg.Now()
		c := s.cached
		if c != nil && now.Before(c.refreshAt) {
			s.mu.Unlock()
			return c, nil
		}
		if c != nil && now.Before(s.retryAt) && c.expiry.Sub(now) >= minRemaining {
			s.mu.Unlock()
			return c, nil
		}
		f := s.flight
		leader := f == nil
		if leader {
			f = &sourceFlight{done: make(chan struct{})}
			s.flight = f
		}
		s.mu.Unlock()

		if leader {
			f.tok, f.err = s.fetch(ctx)
			s.finish(f)
		} else {
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if f.err == nil {
			return f.tok, nil
		}
		// The leader's context ended, not ours: take over the fetch.
		if !leader && isContextErr(f.err) && ctx.Err() == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil, f.err
		}
		if c, ok := s.fallback(); ok {
			return c, nil
		}
		return nil, f.err
	}
}

// finish records a flight's result and releases its waiters.
func (s *Source) finish(f *sourceFlight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.err == nil {
		s.cached = f.tok
		s.retryAt = time.Time{}
	} else if !isContextErr(f.err) {
		s.retryAt = s.cfg.Now().Add(retryAfterFailure)
		if s.cached != nil {
			s.cfg.Logger.Warn("token refresh failed; using the cached token until it expires",
				"client", s.cfg.ClientID, "expiry", s.cached.expiry, "error", f.err)
		}
	}
	s.flight = nil
	close(f.done)
}

// fallback returns the cached token if it is still usable after a failed
// refresh.
func (s *Source) fallback() (*cachedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && s.cached.expiry.Sub(s.cfg.Now()) >= minRemaining {
		return s.cached, true
	}
	return nil, false
}

// fetch requests a new token from the token endpoint.
func (s *Source) fetch(ctx context.Context) (*cachedToken, error) {
	start := s.cfg.Now()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	t, err := s.cc.Token(ctx)
	if err != nil {
		return nil, s.fetchError(err)
	}
	if t.AccessToken == "" {
		return nil, s.responseError("response has no access_token")
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "Bearer") {
		return nil, s.responseError(fmt.Sprintf("token_type is %q, want Bearer", truncate(t.TokenType)))
	}
	// The lifetime counts from before the request: the issuer's clock
	// started no earlier, so expiry is never overestimated.
	lifetime := expiresIn(t)
	if lifetime <= 0 {
		lifetime = defaultLifetime
	}
	expiry := start.Add(lifetime)
	return &cachedToken{value: t.AccessToken, header: "Bearer " + t.AccessToken, expiry: expiry, refreshAt: expiry.Add(-s.margin(lifetime))}, nil
}

// expiresIn reads expires_in. clientcredentials drops Token.ExpiresIn and
// computes Expiry from the real clock, so the raw field is read first.
func expiresIn(t *oauth2.Token) time.Duration {
	if t.ExpiresIn > 0 {
		return time.Duration(t.ExpiresIn) * time.Second
	}
	switch v := t.Extra("expires_in").(type) {
	case float64:
		if v > 0 && v < math.MaxInt32 {
			return time.Duration(v) * time.Second
		}
	case string: // some servers send a string
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	if !t.Expiry.IsZero() {
		return time.Until(t.Expiry)
	}
	return 0
}

// margin is how long before expiry a token of this lifetime is replaced.
func (s *Source) margin(lifetime time.Duration) time.Duration {
	m := s.cfg.RefreshBefore
	if m == 0 {
		m = max(DefaultRefreshMargin, lifetime/10)
	}
	return min(m, lifetime/2)
}

func (s *Source) responseError(msg string) error {
	return &FetchError{Op: "token", URL: s.endpoint, ClientID: s.cfg.ClientID, Kind: ErrTokenEndpoint, Err: errors.New(msg)}
}

// fetchError classifies an oauth2 error. It keeps only the status and the
// OAuth2 error fields, never the response body, and scrubs the secret from
// the description should a server echo it.
func (s *Source) fetchError(err error) error {
	fe := &FetchError{Op: "token", URL: s.endpoint, ClientID: s.cfg.ClientID}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.Response != nil {
			fe.StatusCode = re.Response.StatusCode
		}
		fe.Code = truncate(re.ErrorCode)
		fe.Description = s.scrub(re.ErrorDescription)
		if fe.Code == "invalid_client" || fe.Code == "unauthorized_client" || fe.StatusCode == http.StatusUnauthorized {
			fe.Kind = ErrInvalidClient
		} else {
			fe.Kind = ErrTokenEndpoint
		}
	case isContextErr(err):
		fe.Kind = ErrUnreachable
		fe.Err = err
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			fe.Kind = ErrUnreachable
			fe.Err = errors.New(s.scrub(unwrapURLError(err).Error()))
		} else {
			// oauth2's own decode errors ("server response missing
			// access_token", a bad JSON body): a broken response.
			fe.Kind = ErrTokenEndpoint
			fe.Err = errors.New(s.scrub(err.Error()))
		}
	}
	return fe
}

func (s *Source) scrub(msg string) string {
	if sec := string(s.cfg.ClientSecret); sec != "" {
		msg = strings.ReplaceAll(msg, sec, "[redacted]")
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
