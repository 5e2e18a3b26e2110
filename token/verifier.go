package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Limits and defaults of a Verifier.
const (
	// MaxTokenSize bounds the authorization value Verify accepts, scheme
	// included. Keycloak service-account tokens are about 1 KiB.
	MaxTokenSize = 16 << 10
	// DefaultAudience is the aud a Verifier requires unless configured.
	DefaultAudience = "spine"
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway caps the configurable leeway.
	MaxLeeway = 5 * time.Minute
	// DefaultJWKSRefreshInterval is the least time between two JWKS fetches.
	DefaultJWKSRefreshInterval = 10 * time.Second
	// DefaultJWKSMaxAge is the age after which the JWKS is refetched even
	// without an unknown key id, so removed keys stop verifying.
	DefaultJWKSMaxAge = time.Hour
	// DefaultCacheSize is how many verified tokens a Verifier remembers.
	DefaultCacheSize = 1024
)

// DefaultAlgorithms returns the signature algorithms a Verifier accepts
// unless configured: RSA PKCS#1 v1.5, RSA-PSS and ECDSA.
func DefaultAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
}

// asymmetric are the algorithms a Verifier can be configured with: public-key
// signatures only. HS* would make the (public) JWKS a signing key, and
// "none" no signature at all; both are refused outright.
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is the trusted OIDC issuer URL; iss must equal it exactly.
	// Required.
	Issuer string
	// Audience must be one of the token's aud values. Default "spine".
	// (Keycloak sets aud only through an Audience protocol mapper.)
	Audience string
	// Algorithms allowed in the JWS header. Default DefaultAlgorithms().
	// Only asymmetric algorithms are accepted: NewVerifier fails on HS256,
	// "none" or anything unknown.
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 30 s;
	// negative means none; at most MaxLeeway.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient fetches the discovery document and the JWKS. Default: a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// JWKSRefreshInterval is the least time between two JWKS fetches, so
	// tokens with made-up key ids cannot turn consumers into a flood on the
	// issuer. Default 10 s.
	JWKSRefreshInterval time.Duration
	// JWKSMaxAge: an older JWKS is refetched on the next Verify. Default
	// 1 h; negative means only on unknown key ids.
	JWKSMaxAge time.Duration
	// CacheSize is how many verified tokens are remembered, so a producer's
	// token (reused for minutes) costs one signature check instead of one
	// per record. A hit still checks exp/nbf against the clock. Default
	// 1024; negative disables the cache.
	CacheSize int
	// Logger receives JWKS refresh failures. Default: discard.
	Logger *slog.Logger
}

func (c VerifierConfig) withDefaults() (VerifierConfig, error) {
	if c.Issuer == "" {
		return c, errors.New("token: VerifierConfig.Issuer is required")
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms()
	}
	for _, a := range c.Algorithms {
		if !asymmetric[a] {
			return c, fmt.Errorf("token: VerifierConfig.Algorithms: %q is not allowed (only asymmetric signatures: RS*, PS*, ES*, EdDSA)", a)
		}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	case c.Leeway > MaxLeeway:
		return c, fmt.Errorf("token: VerifierConfig.Leeway %v is more than %v", c.Leeway, MaxLeeway)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.JWKSRefreshInterval <= 0 {
		c.JWKSRefreshInterval = DefaultJWKSRefreshInterval
	}
	if c.JWKSMaxAge == 0 {
		c.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Claims are the verified claims of an access token. Treat them as read-only:
// cached verifications share Audience, Scopes and Raw.
type Claims struct {
	Issuer  string // iss
	Subject string // sub; Keycloak: the service account user
	// ClientID is the client the token was issued to: azp, or client_id /
	// clientId as Keycloak's service-account mappers set them. Never empty.
	ClientID  string
	Audience  []string  // aud
	Scopes    []string  // scope, split on spaces
	ID        string    // jti
	Type      string    // typ claim ("Bearer" for Keycloak access tokens), may be empty
	IssuedAt  time.Time // iat; zero if absent
	Expiry    time.Time // exp
	NotBefore time.Time // nbf; zero if absent
	KeyID     string    // kid of the key that verified the signature
	Algorithm string    // alg of the signature
	// Raw holds every claim as decoded JSON (numbers as float64).
	Raw map[string]any
}

// RequireClient returns nil if the token's client is one of clients, and a
// *Error with ReasonClient otherwise: the check a consumer makes against the
// catalog's producer (and the record's source header).
func (c *Claims) RequireClient(clients ...string) error {
	if slices.Contains(clients, c.ClientID) {
		return nil
	}
	if len(clients) == 1 {
		return reject(ReasonClient, "token client %q is not %q", c.ClientID, clients[0])
	}
	return reject(ReasonClient, "token client %q is not one of %q", c.ClientID, clients)
}

// HasScope reports whether scope was granted.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Verifier checks access tokens issued by one OIDC issuer: the signature
// against the issuer's JWKS, then iss, aud, exp, nbf, iat, typ and the client
// claim. It is safe for concurrent use and starts no goroutines.
type Verifier struct {
	cfg   VerifierConfig
	algs  []jose.SignatureAlgorithm
	keys  *keySet
	cache *resultCache // nil when disabled
}

// NewVerifier discovers the issuer's JWKS URL and fetches the key set once,
// so a misconfigured issuer fails here rather than on the first event.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := discover(ctx, cfg.HTTPClient, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		cfg: cfg,
		keys: &keySet{
			url: m.JWKSURI, client: cfg.HTTPClient, now: cfg.Now,
			interval: cfg.JWKSRefreshInterval, maxAge: cfg.JWKSMaxAge, logger: cfg.Logger,
		},
	}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	if cfg.CacheSize > 0 {
		v.cache = newResultCache(cfg.CacheSize)
	}
	if err := v.keys.refresh(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// Issuer returns the trusted issuer.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Audience returns the required audience.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// Verify checks an authorization header value ("Bearer <jwt>", scheme case
// insensitive) or a bare JWT, and returns its claims. Every failure is an
// *Error whose Reason says what failed; only ReasonUnavailable is worth
// retrying. ctx bounds a JWKS refresh, if one is needed.
func (v *Verifier) Verify(ctx context.Context, authorization string) (*Claims, error) {
	return v.VerifyAt(ctx, authorization, v.cfg.Now())
}

// VerifyAt is Verify with exp, nbf and iat checked at the time at instead of
// now: a consumer checks a record's token at the time the record was
// written, so a consumer that lags behind (a restart, a replay, a retry
// 32 s later) does not reject events whose token was valid when they were
// produced. A time later than the clock's now plus the leeway is refused.
func (v *Verifier) VerifyAt(ctx context.Context, authorization string, at time.Time) (*Claims, error) {
	raw, err := extract(authorization)
	if err != nil {
		return nil, err
	}
	if limit := v.cfg.Now().Add(v.cfg.Leeway); at.After(limit) {
		return nil, reject(ReasonNotYetValid, "record time %s is in the future (now %s)", at.UTC().Format(time.RFC3339), v.cfg.Now().UTC().Format(time.RFC3339))
	}
	now := at
	if v.cache != nil {
		if c, ok := v.cache.get(raw); ok {
			if err := v.checkTimes(c, now); err != nil {
				v.cache.remove(raw)
				return nil, err
			}
			cp := *c
			return &cp, nil
		}
	}
	c, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(raw, c, now)
	}
	cp := *c
	return &cp, nil
}

// extract returns the compact JWS of an authorization value.
func extract(s string) (string, error) {
	if len(s) > MaxTokenSize {
		return "", reject(ReasonMalformed, "authorization value is %d bytes, more than the %d-byte limit", len(s), MaxTokenSize)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", reject(ReasonMissing, "no authorization header")
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		scheme := s[:i]
		if !strings.EqualFold(scheme, "Bearer") {
			return "", reject(ReasonMalformed, "authorization scheme %q is not Bearer", truncateScheme(scheme))
		}
		s = strings.TrimSpace(s[i+1:])
	} else if strings.EqualFold(s, "Bearer") {
		s = ""
	}
	if s == "" {
		return "", reject(ReasonMissing, "authorization header has the Bearer scheme but no token")
	}
	if n := strings.Count(s, "."); n != 2 {
		return "", reject(ReasonMalformed, "not a compact JWS: %d dot-separated parts, want 3", n+1)
	}
	return s, nil
}

func truncateScheme(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// wireClaims are the claims as they travel.
type wireClaims struct {
	jwt.Claims
	AZP           string `json:"azp"`
	ClientIDSnake string `json:"client_id"` // Keycloak ≥ 26 service accounts
	ClientIDCamel string `json:"clientId"`  // Keycloak < 26 ("Client ID" mapper)
	Scope         string `json:"scope"`
	Typ           string `json:"typ"`
}

// verify does the full check of a compact JWS.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		var ua *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ua) {
			return nil, reject(ReasonAlgorithm, "algorithm %q is not allowed (allowed: %s)", truncate(string(ua.Got)), strings.Join(v.cfg.Algorithms, ", "))
		}
		return nil, reject(ReasonMalformed, "not a JWS: %w", err)
	}
	hdr := jws.Signatures[0].Header
	alg, kid := hdr.Algorithm, hdr.KeyID

	keys, err := v.keys.candidates(ctx, kid)
	if err != nil {
		return nil, err
	}
	var payload []byte
	tried := 0
	for i := range keys {
		if !fits(&keys[i], alg) {
			continue
		}
		tried++
		p, err := jws.Verify(&keys[i])
		if err == nil {
			payload, kid = p, keys[i].KeyID
			break
		}
		if !errors.Is(err, jose.ErrCryptoFailure) {
			// Not a bad signature but a bad header (an unsupported "crit").
			return nil, reject(ReasonMalformed, "JWS rejected: %w", err)
		}
	}
	switch {
	case payload != nil:
	case tried == 0 && kid != "":
		return nil, reject(ReasonAlgorithm, "algorithm %s does not fit the issuer's %s", alg, describe(&keys[0]))
	case tried == 0:
		return nil, reject(ReasonUnknownKey, "token has no key id and no key in the issuer's JWKS fits algorithm %s", alg)
	case kid != "":
		return nil, reject(ReasonSignature, "%s signature does not verify with the issuer's %s", alg, describe(&keys[0]))
	default:
		return nil, reject(ReasonSignature, "%s signature (no key id) verifies with none of the issuer's %d fitting keys", alg, tried)
	}

	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, reject(ReasonMalformed, "claims are not a valid JWT claims object: %w", err)
	}
	var rawClaims map[string]any
	if err := json.Unmarshal(payload, &rawClaims); err != nil {
		return nil, reject(ReasonMalformed, "claims are not a JSON object: %w", err)
	}
	c := &Claims{
		Issuer:    w.Issuer,
		Subject:   w.Subject,
		Audience:  []string(w.Audience),
		Scopes:    strings.Fields(w.Scope),
		ID:        w.ID,
		Type:      w.Typ,
		IssuedAt:  w.IssuedAt.Time(),
		Expiry:    w.Expiry.Time(),
		NotBefore: w.NotBefore.Time(),
		KeyID:     kid,
		Algorithm: alg,
		Raw:       rawClaims,
	}
	if c.Issuer != v.cfg.Issuer {
		return nil, reject(ReasonIssuer, "issuer %q is not the trusted issuer %q", truncate(c.Issuer), v.cfg.Issuer)
	}
	if !slices.Contains(c.Audience, v.cfg.Audience) {
		return nil, reject(ReasonAudience, "audience %s does not include %q", quoteList(c.Audience), v.cfg.Audience)
	}
	if w.Expiry == nil {
		return nil, reject(ReasonMalformed, "token has no exp claim")
	}
	if err := v.checkTimes(c, now); err != nil {
		return nil, err
	}
	if c.Type != "" && !strings.EqualFold(c.Type, "Bearer") {
		return nil, reject(ReasonMalformed, "typ claim %q: not an access token (want \"Bearer\")", truncate(c.Type))
	}
	id, err := clientOf(&w)
	if err != nil {
		return nil, err
	}
	c.ClientID = id
	return c, nil
}

// checkTimes checks exp, nbf and iat against now with the leeway.
func (v *Verifier) checkTimes(c *Claims, now time.Time) error {
	l := v.cfg.Leeway
	if now.After(c.Expiry.Add(l)) {
		return reject(ReasonExpired, "token expired at %s, now %s (leeway %v)", stamp(c.Expiry), stamp(now), l)
	}
	if !c.NotBefore.IsZero() && now.Add(l).Before(c.NotBefore) {
		return reject(ReasonNotYetValid, "token not valid before %s, now %s (leeway %v)", stamp(c.NotBefore), stamp(now), l)
	}
	if !c.IssuedAt.IsZero() && now.Add(l).Before(c.IssuedAt) {
		return reject(ReasonNotYetValid, "token issued in the future at %s, now %s (leeway %v)", stamp(c.IssuedAt), stamp(now), l)
	}
	return nil
}

// clientOf returns the client the token was issued to. Keycloak sets azp on
// every access token and, for service accounts, client_id (≥ 26) or clientId
// (older); when several are present they must agree.
func clientOf(w *wireClaims) (string, error) {
	id := ""
	for _, c := range []struct{ name, value string }{{"azp", w.AZP}, {"client_id", w.ClientIDSnake}, {"clientId", w.ClientIDCamel}} {
		switch {
		case c.value == "":
		case id == "":
			id = c.value
		case c.value != id:
			return "", reject(ReasonClient, "token names conflicting clients: %q and %s %q", truncate(id), c.name, truncate(c.value))
		}
	}
	if id == "" {
		return "", reject(ReasonClient, "token names no client (no azp, client_id or clientId claim)")
	}
	return id, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	if len(ss) > 8 {
		return fmt.Sprintf("%q and %d more", truncateAll(ss[:8]), len(ss)-8)
	}
	return fmt.Sprintf("%q", truncateAll(ss))
}

func truncateAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = truncate(s)
	}
	return out
}
