package token_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/internal/fakeclock"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock shared by an issuer and the code under test.
type fakeClock = fakeclock.Clock

func newClock() *fakeClock { return fakeclock.New(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)) }

// env is a dev issuer served over real HTTP (httptest), with counters of the
// requests each endpoint received and a switch to fail the token endpoint.
type env struct {
	clock     *fakeClock
	is        *issuer.Issuer
	srv       *httptest.Server
	url       string
	tokenHits atomic.Int64
	jwksHits  atomic.Int64
	failToken atomic.Bool // token endpoint answers 503
	// gate, when set, holds token requests until closed.
	gate chan struct{}
}

const client = "crm-service"

func newEnv(t testing.TB, mod func(*issuer.Config)) *env {
	t.Helper()
	e := &env{clock: newClock()}
	e.srv = httptest.NewUnstartedServer(nil)
	// The realm path makes every URL differ from the server root, as with
	// Keycloak; a bug joining paths shows.
	e.url = "http://" + e.srv.Listener.Addr().String() + "/realms/spine"
	cfg := issuer.Config{URL: e.url, Clients: []string{client, "billing-service"}, Now: e.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	is, err := issuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.is = is
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, issuer.TokenPath):
			e.tokenHits.Add(1)
			if e.gate != nil {
				<-e.gate
			}
			if e.failToken.Load() {
				http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
				return
			}
		case strings.HasSuffix(r.URL.Path, issuer.JWKSPath):
			e.jwksHits.Add(1)
		}
		is.ServeHTTP(w, r)
	})
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) verifier(t testing.TB, mod func(*token.VerifierConfig)) *token.Verifier {
	t.Helper()
	cfg := token.VerifierConfig{Issuer: e.url, Now: e.clock.Now, HTTPClient: e.srv.Client()}
	if mod != nil {
		mod(&cfg)
	}
	v, err := token.NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) source(t testing.TB, id string, mod func(*token.SourceConfig)) *token.Source {
	t.Helper()
	sec, ok := e.is.ClientSecret(id)
	if !ok {
		t.Fatalf("no client %q", id)
	}
	cfg := token.SourceConfig{Issuer: e.url, ClientID: id, ClientSecret: token.Secret(sec), Now: e.clock.Now, HTTPClient: e.srv.Client()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := token.NewSource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issue mints a token for client through the real token endpoint.
func (e *env) issue(t testing.TB) string {
	t.Helper()
	s := e.source(t, client, nil)
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claims are the claims the issuer would put in a token now; tests change
// one and sign with the issuer's own key.
func (e *env) claims() map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": e.url, "sub": "service-account-" + client, "aud": "spine",
		"azp": client, "client_id": client, "typ": "Bearer", "scope": "events:write",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j-1",
	}
}

func (e *env) sign(t testing.TB, change func(map[string]any)) string {
	t.Helper()
	c := e.claims()
	if change != nil {
		change(c)
	}
	raw, err := e.is.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// jwks fetches the issuer's published keys over HTTP.
func (e *env) jwks(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	resp, err := e.srv.Client().Get(e.is.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

// forge signs claims with a key the issuer never had.
func forge(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func attackerRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func attackerEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func thumbprint(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	k := jose.JSONWebKey{Key: pub}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}
