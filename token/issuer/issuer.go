package issuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Defaults of an Issuer.
const (
	// DefaultAudience is the aud claim of every token unless configured.
	DefaultAudience = "spine"
	// DefaultTokenLifetime is exp - iat, Keycloak's default access token
	// lifespan.
	DefaultTokenLifetime = 5 * time.Minute
)

// Paths below the issuer URL, as Keycloak lays out a realm.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	TokenPath     = "/protocol/openid-connect/token"
	JWKSPath      = "/protocol/openid-connect/certs"
)

// ErrUnknownClient is returned for a client id the issuer does not know.
var ErrUnknownClient = errors.New("issuer: unknown client")

// clientIDPattern: ids become "service-account-<id>" subjects and file keys;
// keep them plain. Catalog service names ("crm-service") fit.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Config configures an Issuer.
type Config struct {
	// URL is the issuer identifier as clients reach it: the iss claim and
	// the base of every endpoint, e.g. "http://127.0.0.1:18090/realms/spine".
	// Required; no query, fragment or trailing slash.
	URL string
	// Clients are the client ids to accept. Each gets a random secret
	// (Open keeps it across restarts). More can be added with AddClient.
	Clients []string
	// Audience is the aud claim of every token. Default ["spine"].
	Audience []string
	// Algorithm selects the signing key: RS256 (default) or ES256. Both keys
	// are always published in the JWKS.
	Algorithm string
	// TokenLifetime is exp - iat. Default 5 minutes.
	TokenLifetime time.Duration
	// Now is the clock for iat and exp. Default time.Now.
	Now func() time.Time
	// Logger receives issued tokens (client, kid, jti) and rejected
	// requests at debug and info. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return c, errors.New("issuer: Config.URL is required")
	case err != nil:
		return c, fmt.Errorf("issuer: Config.URL: %w", err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return c, fmt.Errorf("issuer: Config.URL %q is not an absolute http(s) URL", c.URL)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.URL, "/") || strings.ContainsAny(u.Path, "{}"):
		return c, fmt.Errorf("issuer: Config.URL %q must have no query, fragment, braces or trailing slash", c.URL)
	}
	if len(c.Audience) == 0 {
		c.Audience = []string{DefaultAudience}
	}
	if c.Algorithm == "" {
		c.Algorithm = RS256
	}
	if c.Algorithm != RS256 && c.Algorithm != ES256 {
		return c, fmt.Errorf("issuer: Config.Algorithm %q is not supported (RS256 or ES256)", c.Algorithm)
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.TokenLifetime < 0 {
		return c, fmt.Errorf("issuer: Config.TokenLifetime %v is negative", c.TokenLifetime)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, id := range c.Clients {
		if !clientIDPattern.MatchString(id) {
			return c, fmt.Errorf("issuer: client id %q: want 1-128 of [A-Za-z0-9._-], starting alphanumeric", id)
		}
	}
	return c, nil
}

// Issuer is a minimal OpenID Connect provider for development and tests. It
// is an http.Handler serving discovery, the JWKS and a client-credentials
// token endpoint under its URL's path, and is safe for concurrent use.
type Issuer struct {
	cfg  Config
	path string // URL path prefix, "" or "/realms/spine"
	dir  string // "<dataDir>/issuer", or "" when in memory
	mux  *http.ServeMux

	mu      sync.RWMutex
	keys    keyring
	secrets map[string]string   // client -> secret
	hashes  map[string][32]byte // client -> sha256(secret)
}

// New returns an in-memory Issuer with fresh keys (one RSA-2048, one EC
// P-256) and fresh secrets for cfg.Clients.
func New(cfg Config) (*Issuer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	is := newIssuer(cfg, "")
	if _, err := is.keys.ensure(RS256, ES256); err != nil {
		return nil, err
	}
	for _, id := range cfg.Clients {
		if _, ok := is.secrets[id]; ok {
			continue
		}
		sec, err := newSecret()
		if err != nil {
			return nil, err
		}
		is.setSecret(id, sec)
	}
	return is, nil
}

func newIssuer(cfg Config, dir string) *Issuer {
	u, _ := url.Parse(cfg.URL) // checked by withDefaults
	is := &Issuer{
		cfg: cfg, path: u.Path, dir: dir,
		keys:    keyring{Active: map[string]string{}},
		secrets: map[string]string{}, hashes: map[string][32]byte{},
	}
	is.mux = http.NewServeMux()
	is.mux.HandleFunc("GET "+is.path+DiscoveryPath, is.serveDiscovery)
	is.mux.HandleFunc("GET "+is.path+JWKSPath, is.serveJWKS)
	is.mux.HandleFunc("POST "+is.path+TokenPath, is.serveToken)
	return is
}

// newSecret returns 256 random bits, base64url.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("issuer: generating a client secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (is *Issuer) setSecret(id, secret string) {
	is.secrets[id] = secret
	is.hashes[id] = sha256.Sum256([]byte(secret))
}

// URL returns the issuer identifier.
func (is *Issuer) URL() string { return is.cfg.URL }

// TokenURL returns the token endpoint.
func (is *Issuer) TokenURL() string { return is.cfg.URL + TokenPath }

// JWKSURL returns the JWKS endpoint.
func (is *Issuer) JWKSURL() string { return is.cfg.URL + JWKSPath }

// ServeHTTP implements http.Handler.
func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) { is.mux.ServeHTTP(w, r) }

// AddClient registers a client with a fresh secret (persisted when the
// Issuer was opened on a data dir) and returns the secret. An existing
// client keeps its secret.
func (is *Issuer) AddClient(id string) (string, error) {
	if !clientIDPattern.MatchString(id) {
		return "", fmt.Errorf("issuer: client id %q: want 1-128 of [A-Za-z0-9._-], starting alphanumeric", id)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if sec, ok := is.secrets[id]; ok {
		return sec, nil
	}
	sec, err := newSecret()
	if err != nil {
		return "", err
	}
	is.setSecret(id, sec)
	if err := is.saveCredentials(); err != nil {
		delete(is.secrets, id)
		delete(is.hashes, id)
		return "", err
	}
	return sec, nil
}

// ClientSecret returns a client's secret.
func (is *Issuer) ClientSecret(id string) (string, bool) {
	is.mu.RLock()
	defer is.mu.RUnlock()
	s, ok := is.secrets[id]
	return s, ok
}

// Credentials returns the issuer URL and every client's secret.
func (is *Issuer) Credentials() Credentials {
	is.mu.RLock()
	defer is.mu.RUnlock()
	return is.credentialsLocked()
}

// SigningKeyID returns the kid that signs tokens now.
func (is *Issuer) SigningKeyID() string {
	is.mu.RLock()
	defer is.mu.RUnlock()
	return is.keys.Active[is.cfg.Algorithm]
}

// KeyIDs returns every published kid, oldest first.
func (is *Issuer) KeyIDs() []string {
	is.mu.RLock()
	defer is.mu.RUnlock()
	ids := make([]string, len(is.keys.Keys))
	for i, k := range is.keys.Keys {
		ids[i] = k.KeyID
	}
	return ids
}

// Rotate generates a new key for alg (RS256 or ES256) and makes it the one
// that signs for alg; earlier keys stay in the JWKS, as after a Keycloak key
// rotation. It returns the new kid.
func (is *Issuer) Rotate(alg string) (string, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	prev := is.keys
	next := keyring{Keys: slices.Clone(prev.Keys), Active: map[string]string{}}
	for a, k := range prev.Active {
		next.Active[a] = k
	}
	if err := next.rotate(alg); err != nil {
		return "", err
	}
	is.keys = next
	if err := is.saveKeys(); err != nil {
		is.keys = prev
		return "", err
	}
	return next.Active[alg], nil
}

// Token is a token endpoint response.
type Token struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
	NotBeforePolicy  int64  `json:"not-before-policy"`
	Scope            string `json:"scope"`
}

// Issue mints an access token for a known client without checking its
// secret, exactly as the token endpoint would after authenticating it.
func (is *Issuer) Issue(client string, scopes ...string) (Token, error) {
	is.mu.RLock()
	_, ok := is.secrets[client]
	is.mu.RUnlock()
	if !ok {
		return Token{}, fmt.Errorf("%w %q", ErrUnknownClient, client)
	}
	now := is.cfg.Now()
	var aud any = is.cfg.Audience
	if len(is.cfg.Audience) == 1 {
		aud = is.cfg.Audience[0] // as Keycloak: a string for one audience
	}
	scope := strings.Join(scopes, " ")
	jti := uuid.NewString()
	claims := map[string]any{
		"exp":                now.Add(is.cfg.TokenLifetime).Unix(),
		"iat":                now.Unix(),
		"jti":                jti,
		"iss":                is.cfg.URL,
		"aud":                aud,
		"sub":                "service-account-" + client,
		"typ":                "Bearer",
		"azp":                client,
		"client_id":          client,
		"preferred_username": "service-account-" + client,
		"scope":              scope,
	}
	raw, err := is.Sign(claims)
	if err != nil {
		return Token{}, err
	}
	is.cfg.Logger.Debug("token issued", "client", client, "jti", jti, "kid", is.SigningKeyID())
	return Token{
		AccessToken: raw, ExpiresIn: int64(is.cfg.TokenLifetime / time.Second),
		TokenType: "Bearer", Scope: scope,
	}, nil
}

// Sign signs arbitrary claims with the active key (JWS compact, header
// alg, kid and typ "JWT"). Tests use it to mint tokens the token endpoint
// never would: expired, from the future, for another audience.
func (is *Issuer) Sign(claims any) (string, error) {
	is.mu.RLock()
	key, ok := is.keys.key(is.keys.Active[is.cfg.Algorithm])
	is.mu.RUnlock()
	if !ok {
		return "", fmt.Errorf("issuer: no active %s key", is.cfg.Algorithm)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(is.cfg.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("issuer: signer for key %q: %w", key.KeyID, err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("issuer: signing with key %q: %w", key.KeyID, err)
	}
	return raw, nil
}

// authenticate compares in constant time; an unknown client costs the same
// as a wrong secret.
func (is *Issuer) authenticate(id, secret string) bool {
	is.mu.RLock()
	want, ok := is.hashes[id]
	is.mu.RUnlock()
	if !ok {
		want = [32]byte{} // compare against something all the same
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok
}
