package token_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// wantReason fails unless err is an *token.Error with reason r that
// errors.Is matches r's sentinel (and no other), with msg in its text.
func wantReason(t *testing.T, err error, r token.Reason, msg string) {
	t.Helper()
	var te *token.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *token.Error", err, err)
	}
	if te.Reason != r {
		t.Fatalf("reason %q, want %q (error: %v)", te.Reason, r, err)
	}
	if !errors.Is(err, r.Sentinel()) {
		t.Fatalf("errors.Is(err, %v) is false", r.Sentinel())
	}
	if r != token.ReasonExpired && errors.Is(err, token.ErrExpired) {
		t.Fatalf("errors.Is matches ErrExpired for reason %q", r)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not contain %q", err, msg)
	}
}

func TestVerifyAcceptsIssuedTokens(t *testing.T) {
	for _, alg := range []string{issuer.RS256, issuer.ES256} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(c *issuer.Config) { c.Algorithm = alg })
			v := e.verifier(t, nil)
			src := e.source(t, client, func(c *token.SourceConfig) { c.Scopes = []string{"events:write", "events:read"} })
			hdr, err := src.Header(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(hdr, "Bearer ey") {
				t.Fatalf("header %q", hdr)
			}
			for _, in := range []string{hdr, strings.TrimPrefix(hdr, "Bearer "), "bearer  " + strings.TrimPrefix(hdr, "Bearer ") + " "} {
				c, err := v.Verify(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				now := e.clock.Now()
				switch {
				case c.ClientID != client, c.Subject != "service-account-"+client, c.Issuer != e.url:
					t.Fatalf("claims %+v", c)
				case len(c.Audience) != 1 || c.Audience[0] != "spine":
					t.Fatalf("audience %q", c.Audience)
				case !c.HasScope("events:read") || c.HasScope("admin"):
					t.Fatalf("scopes %q", c.Scopes)
				case c.Algorithm != alg || c.KeyID != e.is.SigningKeyID():
					t.Fatalf("alg %s kid %s, want %s %s", c.Algorithm, c.KeyID, alg, e.is.SigningKeyID())
				case !c.IssuedAt.Equal(now) || !c.Expiry.Equal(now.Add(5*time.Minute)) || !c.NotBefore.IsZero():
					t.Fatalf("times iat %v exp %v nbf %v", c.IssuedAt, c.Expiry, c.NotBefore)
				case c.Type != "Bearer" || c.ID == "" || c.Raw["client_id"] != client:
					t.Fatalf("claims %+v", c)
				}
				if err := c.RequireClient(client); err != nil {
					t.Fatal(err)
				}
				wantReason(t, c.RequireClient("billing-service"), token.ReasonClient, `token client "crm-service" is not "billing-service"`)
			}
		})
	}
}

// TestVerifyRejects is the hostile-token table: each forged or broken token
// must be refused with the right reason.
func TestVerifyRejects(t *testing.T) {
	e := newEnv(t, nil)
	keys := e.jwks(t)
	var rsaKID, ecKID string
	var rsaPub any
	for _, k := range keys.Keys {
		switch k.Algorithm {
		case "RS256":
			rsaKID, rsaPub = k.KeyID, k.Key
		case "ES256":
			ecKID = k.KeyID
		}
	}
	if rsaKID == "" || ecKID == "" {
		t.Fatalf("JWKS %+v lacks an RS256 or ES256 key", keys)
	}
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	evilRSA, evilEC := attackerRSA(t), attackerEC(t)

	cases := []struct {
		name    string
		header  func() string
		advance time.Duration // after minting, before verifying
		want    token.Reason
		msg     string
	}{
		{"empty", func() string { return "" }, 0, token.ReasonMissing, "no authorization header"},
		{"blank", func() string { return " \t " }, 0, token.ReasonMissing, "no authorization header"},
		{"scheme only", func() string { return "Bearer" }, 0, token.ReasonMissing, "no token"},
		{"scheme and spaces", func() string { return "Bearer   " }, 0, token.ReasonMissing, "no token"},
		{"basic scheme", func() string { return "Basic Y3JtOnNlY3JldA==" }, 0, token.ReasonMalformed, `scheme "Basic" is not Bearer`},
		{"two parts", func() string { return "Bearer abc.def" }, 0, token.ReasonMalformed, "2 dot-separated parts, want 3"},
		{"four parts", func() string { return "Bearer a.b.c.d" }, 0, token.ReasonMalformed, "4 dot-separated parts"},
		{"no dots", func() string { return "not-a-jwt" }, 0, token.ReasonMalformed, "1 dot-separated parts"},
		{"garbage base64", func() string { return "Bearer !!.??.**" }, 0, token.ReasonMalformed, "not a JWS"},
		{"header not JSON", func() string { return b64("nope") + "." + b64("{}") + ".c2ln" }, 0, token.ReasonMalformed, "not a JWS"},
		{"JWS JSON serialization", func() string { return `{"payload":"e30","protected":"eyJhbGciOiJSUzI1NiJ9","signature":"c2ln"}` }, 0, token.ReasonMalformed, ""},
		{"oversized", func() string { return "Bearer " + strings.Repeat("a", token.MaxTokenSize) }, 0, token.ReasonMalformed, "more than the 16384-byte limit"},
		{"alg none", func() string {
			c, _ := json.Marshal(e.claims())
			return "Bearer " + b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(string(c)) + "."
		}, 0, token.ReasonAlgorithm, `algorithm "none" is not allowed`},
		{"alg None with kid", func() string {
			c, _ := json.Marshal(e.claims())
			return b64(`{"alg":"None","kid":"`+rsaKID+`"}`) + "." + b64(string(c)) + "." + b64("x")
		}, 0, token.ReasonAlgorithm, `algorithm "None" is not allowed`},
		{"HS256 keyed with the RSA public key PEM", func() string {
			return forge(t, jose.HS256, pemBytes, rsaKID, e.claims())
		}, 0, token.ReasonAlgorithm, `algorithm "HS256" is not allowed`},
		{"HS256 keyed with the RSA public key DER", func() string {
			return forge(t, jose.HS256, der, rsaKID, e.claims())
		}, 0, token.ReasonAlgorithm, `algorithm "HS256" is not allowed`},
		{"HS512", func() string { return forge(t, jose.HS512, make([]byte, 64), "", e.claims()) }, 0, token.ReasonAlgorithm, `"HS512" is not allowed`},
		{"attacker RSA key, kid in JWKS", func() string {
			return forge(t, jose.RS256, evilRSA, rsaKID, e.claims())
		}, 0, token.ReasonSignature, `RS256 signature does not verify with the issuer's RSA-2048 key "` + rsaKID + `"`},
		{"attacker EC key, kid in JWKS", func() string {
			return forge(t, jose.ES256, evilEC, ecKID, e.claims())
		}, 0, token.ReasonSignature, `ES256 signature does not verify with the issuer's EC P-256 key`},
		{"attacker RSA key, no kid", func() string {
			return forge(t, jose.RS256, evilRSA, "", e.claims())
		}, 0, token.ReasonSignature, "verifies with none of the issuer's 1 fitting keys"},
		{"attacker RSA key, kid not in JWKS", func() string {
			return forge(t, jose.RS256, evilRSA, b64(string(thumbprint(t, &evilRSA.PublicKey))), e.claims())
		}, 11 * time.Second, token.ReasonUnknownKey, "is not in the issuer's JWKS"},
		{"attacker EC key, kid not in JWKS", func() string {
			return forge(t, jose.ES256, evilEC, "attacker-kid", e.claims())
		}, 11 * time.Second, token.ReasonUnknownKey, `key id "attacker-kid" is not in the issuer's JWKS`},
		{"RS256 under the EC key's kid", func() string {
			return forge(t, jose.RS256, evilRSA, ecKID, e.claims())
		}, 0, token.ReasonAlgorithm, `algorithm RS256 does not fit the issuer's EC P-256 key`},
		{"PS256 under the RS256 key's kid", func() string {
			return forge(t, jose.PS256, evilRSA, rsaKID, e.claims())
		}, 0, token.ReasonAlgorithm, `algorithm PS256 does not fit the issuer's RSA-2048 key "` + rsaKID + `" (alg RS256)`},
		{"tampered payload", func() string {
			parts := strings.Split(e.sign(t, nil), ".")
			c := e.claims()
			c["azp"], c["client_id"] = "billing-service", "billing-service"
			p, _ := json.Marshal(c)
			return parts[0] + "." + b64(string(p)) + "." + parts[2]
		}, 0, token.ReasonSignature, "signature does not verify"},
		{"tampered header kid", func() string {
			parts := strings.Split(e.sign(t, nil), ".")
			return b64(`{"alg":"RS256","kid":"`+rsaKID+`","typ":"JWT","x":1}`) + "." + parts[1] + "." + parts[2]
		}, 0, token.ReasonSignature, "signature does not verify"},
		{"truncated signature", func() string {
			s := e.sign(t, nil)
			return s[:len(s)-4]
		}, 0, token.ReasonSignature, "signature does not verify"},
		{"signature swapped from another token", func() string {
			a := strings.Split(e.sign(t, nil), ".")
			b := strings.Split(e.sign(t, func(c map[string]any) { c["jti"] = "other" }), ".")
			return a[0] + "." + a[1] + "." + b[2]
		}, 0, token.ReasonSignature, "signature does not verify"},
		{"expired", func() string {
			return e.sign(t, func(c map[string]any) { c["exp"] = e.clock.Now().Add(-31 * time.Second).Unix() })
		}, 0, token.ReasonExpired, "token expired at "},
		{"expired by waiting", func() string { return e.issue(t) }, 5*time.Minute + 31*time.Second, token.ReasonExpired, "(leeway 30s)"},
		{"no exp", func() string { return e.sign(t, func(c map[string]any) { delete(c, "exp") }) }, 0, token.ReasonMalformed, "no exp claim"},
		{"exp not a number", func() string { return e.sign(t, func(c map[string]any) { c["exp"] = "tomorrow" }) }, 0, token.ReasonMalformed, "claims are not a valid JWT claims object"},
		{"huge exp", func() string { return e.sign(t, func(c map[string]any) { c["exp"] = 1e300 }) }, 0, token.ReasonMalformed, ""},
		{"nbf in the future", func() string {
			return e.sign(t, func(c map[string]any) { c["nbf"] = e.clock.Now().Add(31 * time.Second).Unix() })
		}, 0, token.ReasonNotYetValid, "token not valid before "},
		{"iat in the future", func() string {
			return e.sign(t, func(c map[string]any) { c["iat"] = e.clock.Now().Add(time.Minute).Unix() })
		}, 0, token.ReasonNotYetValid, "token issued in the future at "},
		{"wrong issuer", func() string {
			return e.sign(t, func(c map[string]any) { c["iss"] = "https://evil.example/realms/spine" })
		},
			0, token.ReasonIssuer, `issuer "https://evil.example/realms/spine" is not the trusted issuer`},
		{"issuer with trailing slash", func() string { return e.sign(t, func(c map[string]any) { c["iss"] = e.url + "/" }) },
			0, token.ReasonIssuer, "is not the trusted issuer"},
		{"no issuer", func() string { return e.sign(t, func(c map[string]any) { delete(c, "iss") }) }, 0, token.ReasonIssuer, `issuer ""`},
		{"wrong audience", func() string { return e.sign(t, func(c map[string]any) { c["aud"] = "account" }) },
			0, token.ReasonAudience, `audience ["account"] does not include "spine"`},
		{"audience list without spine", func() string { return e.sign(t, func(c map[string]any) { c["aud"] = []string{"a", "b"} }) },
			0, token.ReasonAudience, `audience ["a" "b"] does not include "spine"`},
		{"no audience", func() string { return e.sign(t, func(c map[string]any) { delete(c, "aud") }) },
			0, token.ReasonAudience, "audience (none) does not include"},
		{"ID token", func() string { return e.sign(t, func(c map[string]any) { c["typ"] = "ID" }) }, 0, token.ReasonMalformed, `typ claim "ID": not an access token`},
		{"refresh token", func() string { return e.sign(t, func(c map[string]any) { c["typ"] = "Refresh" }) }, 0, token.ReasonMalformed, "not an access token"},
		{"no client", func() string {
			return e.sign(t, func(c map[string]any) { delete(c, "azp"); delete(c, "client_id") })
		}, 0, token.ReasonClient, "token names no client"},
		{"conflicting clients", func() string { return e.sign(t, func(c map[string]any) { c["client_id"] = "billing-service" }) },
			0, token.ReasonClient, `conflicting clients: "crm-service" and client_id "billing-service"`},
		{"conflicting camel client", func() string { return e.sign(t, func(c map[string]any) { c["clientId"] = "x" }) },
			0, token.ReasonClient, `and clientId "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := e.verifier(t, nil)
			hdr := c.header()
			e.clock.Advance(c.advance)
			claims, err := v.Verify(context.Background(), hdr)
			if claims != nil {
				t.Fatalf("accepted: %+v", claims)
			}
			wantReason(t, err, c.want, c.msg)
			if strings.Contains(err.Error(), "eyJ") {
				t.Fatalf("error %q quotes the token", err)
			}
		})
	}
}

func TestVerifyTimeMessagesAndLeeway(t *testing.T) {
	e := newEnv(t, nil)
	v := e.verifier(t, nil)
	now := e.clock.Now()
	exp := e.sign(t, func(c map[string]any) { c["exp"] = now.Unix() })

	// exp + leeway is still valid; one second later it is not.
	e.clock.Advance(30 * time.Second)
	if _, err := v.Verify(context.Background(), exp); err != nil {
		t.Fatalf("at exp+leeway: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err := v.Verify(context.Background(), exp)
	wantReason(t, err, token.ReasonExpired, "token expired at 2026-05-04T10:00:00Z, now 2026-05-04T10:00:31Z (leeway 30s)")

	nbf := e.sign(t, func(c map[string]any) { c["nbf"] = e.clock.Now().Add(40 * time.Second).Unix() })
	_, err = v.Verify(context.Background(), nbf)
	wantReason(t, err, token.ReasonNotYetValid, "token not valid before 2026-05-04T10:01:11Z, now 2026-05-04T10:00:31Z (leeway 30s)")
	e.clock.Advance(10 * time.Second)
	if _, err := v.Verify(context.Background(), nbf); err != nil {
		t.Fatalf("at nbf-leeway: %v", err)
	}

	// Leeway is configurable; negative means none.
	strict := e.verifier(t, func(c *token.VerifierConfig) { c.Leeway = -1 })
	late := e.sign(t, func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Second).Unix() })
	_, err = strict.Verify(context.Background(), late)
	wantReason(t, err, token.ReasonExpired, "(leeway 0s)")
}

// TestVerifyKeyRotation: a token signed by a key added after the verifier
// fetched the JWKS is accepted after one refresh; old keys keep working.
func TestVerifyKeyRotation(t *testing.T) {
	for _, alg := range []string{issuer.RS256, issuer.ES256} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(c *issuer.Config) { c.Algorithm = alg })
			v := e.verifier(t, nil)
			old := e.issue(t)
			if _, err := v.Verify(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			if n := e.jwksHits.Load(); n != 1 {
				t.Fatalf("JWKS fetched %d times, want 1", n)
			}
			oldKID := e.is.SigningKeyID()
			newKID, err := e.is.Rotate(alg)
			if err != nil {
				t.Fatal(err)
			}
			if newKID == oldKID || e.is.SigningKeyID() != newKID || len(e.is.KeyIDs()) != 3 {
				t.Fatalf("rotate: old %s new %s active %s all %v", oldKID, newKID, e.is.SigningKeyID(), e.is.KeyIDs())
			}
			fresh := e.issue(t)

			// Within the refresh interval of the initial fetch: throttled,
			// reported as temporary.
			_, err = v.Verify(context.Background(), fresh)
			wantReason(t, err, token.ReasonUnavailable, "refreshed at most once per 10s")
			var te *token.Error
			if !errors.As(err, &te) || !te.Temporary() {
				t.Fatalf("throttled rejection not temporary: %v", err)
			}
			if n := e.jwksHits.Load(); n != 1 {
				t.Fatalf("JWKS fetched %d times while throttled, want 1", n)
			}

			e.clock.Advance(11 * time.Second)
			c, err := v.Verify(context.Background(), fresh)
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyID != newKID {
				t.Fatalf("verified with %s, want %s", c.KeyID, newKID)
			}
			if n := e.jwksHits.Load(); n != 2 {
				t.Fatalf("JWKS fetched %d times, want 2", n)
			}
			// The old key is still published and cached.
			if _, err := v.Verify(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			if n := e.jwksHits.Load(); n != 2 {
				t.Fatalf("JWKS fetched %d times, want 2", n)
			}
		})
	}
}

// TestVerifyForgeriesDoNotFloodIssuer: forged signatures under a known kid
// never refetch; made-up kids refetch at most once per interval, however
// many arrive.
func TestVerifyForgeriesDoNotFloodIssuer(t *testing.T) {
	e := newEnv(t, nil)
	v := e.verifier(t, func(c *token.VerifierConfig) { c.CacheSize = -1 })
	evil := attackerRSA(t)
	for i := range 50 {
		_, err := v.Verify(context.Background(), forge(t, jose.RS256, evil, e.is.SigningKeyID(), e.claims()))
		wantReason(t, err, token.ReasonSignature, "")
		_, err = v.Verify(context.Background(), forge(t, jose.RS256, evil, fmt.Sprintf("kid-%d", i), e.claims()))
		if i == 0 {
			wantReason(t, err, token.ReasonUnavailable, "")
		}
		if i == 25 {
			e.clock.Advance(10 * time.Second)
		}
	}
	if n := e.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times for 100 forgeries over 10s, want 2 (initial + one refresh)", n)
	}
}

// TestVerifyConcurrentRefresh: many verifiers of a new kid at once share one
// JWKS request.
func TestVerifyConcurrentRefresh(t *testing.T) {
	e := newEnv(t, nil)
	v := e.verifier(t, func(c *token.VerifierConfig) { c.CacheSize = -1 })
	if _, err := e.is.Rotate(issuer.RS256); err != nil {
		t.Fatal(err)
	}
	tok := e.issue(t)
	e.clock.Advance(time.Minute)
	errs := make(chan error, 32)
	for range cap(errs) {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			// A goroutine arriving after the shared refresh finds the new key
			// cached; one arriving before shares it. None may fail.
			t.Error(err)
		}
	}
	if n := e.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

func TestVerifyIssuerDown(t *testing.T) {
	e := newEnv(t, nil)
	v := e.verifier(t, nil)
	tok := e.issue(t)
	e.srv.Close()
	e.clock.Advance(time.Minute)
	// Known kid: verified from the cached JWKS.
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// Unknown kid: cannot be decided.
	_, err := v.Verify(context.Background(), forge(t, jose.ES256, attackerEC(t), "new-kid", e.claims()))
	wantReason(t, err, token.ReasonUnavailable, "refreshing it failed")
	if !errors.Is(err, token.ErrUnreachable) {
		t.Fatalf("error %v does not wrap ErrUnreachable", err)
	}
	// Stale JWKS and issuer down: still verifies known keys.
	e.clock.Advance(2 * time.Hour)
	nv := e.sign(t, nil)
	if _, err := v.Verify(context.Background(), nv); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyMaxAge: after JWKSMaxAge the key set is refetched, so a key the
// issuer withdrew stops verifying.
func TestVerifyMaxAge(t *testing.T) {
	e := newEnv(t, nil)
	jwks := e.jwks(t) // the issuer's set, to serve a reduced copy later
	var withdrawn atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": e.url, "jwks_uri": "http://" + r.Host + "/jwks", "token_endpoint": e.is.TokenURL()})
		case r.URL.Path == "/jwks":
			set := jwks
			if withdrawn.Load() {
				set = jose.JSONWebKeySet{}
			}
			_ = json.NewEncoder(w).Encode(set)
		}
	}))
	defer srv.Close()
	// The discovery document must name the configured issuer; this server
	// claims e.url, so the verifier is configured with e.url but fetches
	// from srv through a client that rewrites the host.
	hc := &http.Client{Transport: rewrite{to: srv.Listener.Addr().String(), base: srv.Client().Transport}}
	v := e.verifier(t, func(c *token.VerifierConfig) { c.HTTPClient = hc; c.CacheSize = -1 })
	tok := e.sign(t, func(c map[string]any) { c["exp"] = e.clock.Now().Add(3 * time.Hour).Unix() })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	withdrawn.Store(true)
	e.clock.Advance(59 * time.Minute)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("before max age: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	_, err := v.Verify(context.Background(), tok)
	wantReason(t, err, token.ReasonUnknownKey, "is not in the issuer's JWKS")
}

// rewrite sends every request to another host.
type rewrite struct {
	to   string
	base http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host = r.to
	return r.base.RoundTrip(req)
}

func TestVerifyCacheRechecksTime(t *testing.T) {
	for _, size := range []int{0, 2, -1} {
		t.Run(fmt.Sprint("cache=", size), func(t *testing.T) {
			e := newEnv(t, nil)
			v := e.verifier(t, func(c *token.VerifierConfig) { c.CacheSize = size })
			var toks []string
			for i := range 5 {
				toks = append(toks, e.sign(t, func(c map[string]any) { c["jti"] = fmt.Sprint(i) }))
			}
			for range 3 {
				for i, tok := range toks {
					c, err := v.Verify(context.Background(), tok)
					if err != nil {
						t.Fatal(err)
					}
					if c.ID != fmt.Sprint(i) {
						t.Fatalf("token %d verified as jti %s", i, c.ID)
					}
					c.ClientID = "mutated" // must not leak into the cache
				}
			}
			c, err := v.Verify(context.Background(), toks[0])
			if err != nil || c.ClientID != client {
				t.Fatalf("%+v %v", c, err)
			}
			e.clock.Advance(5*time.Minute + 31*time.Second)
			for _, tok := range toks {
				_, err := v.Verify(context.Background(), tok)
				wantReason(t, err, token.ReasonExpired, "token expired at")
			}
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		name string
		cfg  token.VerifierConfig
		want string
	}{
		{"no issuer", token.VerifierConfig{}, "Issuer is required"},
		{"HS256", token.VerifierConfig{Issuer: e.url, Algorithms: []string{"RS256", "HS256"}}, `"HS256" is not allowed`},
		{"none", token.VerifierConfig{Issuer: e.url, Algorithms: []string{"none"}}, `"none" is not allowed`},
		{"unknown", token.VerifierConfig{Issuer: e.url, Algorithms: []string{"ES256K"}}, `"ES256K" is not allowed`},
		{"leeway", token.VerifierConfig{Issuer: e.url, Leeway: time.Hour}, "more than 5m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := token.NewVerifier(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}

	t.Run("issuer mismatch", func(t *testing.T) {
		// Same server, another path: discovery 404s.
		_, err := token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: e.url + "x", HTTPClient: e.srv.Client()})
		var fe *token.FetchError
		if !errors.As(err, &fe) || !errors.Is(err, token.ErrDiscovery) || fe.StatusCode != 404 {
			t.Fatalf("%v", err)
		}
		// A document naming another issuer.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"issuer":"https://other","jwks_uri":"http://%s/jwks","token_endpoint":"http://x/t"}`, r.Host)
		}))
		defer srv.Close()
		_, err = token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: srv.URL, HTTPClient: srv.Client()})
		if !errors.Is(err, token.ErrDiscovery) || !strings.Contains(err.Error(), `document names issuer "https://other"`) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("oversized discovery", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + strings.Repeat("x", 2<<20) + `"}`))
		}))
		defer srv.Close()
		_, err := token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: srv.URL, HTTPClient: srv.Client()})
		if !errors.Is(err, token.ErrDiscovery) || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		_, err := token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: u})
		if !errors.Is(err, token.ErrUnreachable) || !strings.Contains(err.Error(), u+"/.well-known/openid-configuration") {
			t.Fatalf("%v", err)
		}
	})
}

// TestVerifyAt: a consumer checks a record's token at the time the record
// was produced. A token that has expired since is accepted; one expired or
// not yet valid at that time is not; a time in the future is refused.
func TestVerifyAt(t *testing.T) {
	e := newEnv(t, nil)
	v := e.verifier(t, nil)
	produced := e.clock.Now()
	tok := e.sign(t, func(c map[string]any) { c["exp"] = produced.Add(5 * time.Minute).Unix() })
	e.clock.Advance(time.Hour) // the consumer catches up an hour later

	if _, err := v.VerifyAt(context.Background(), tok, produced); err != nil {
		t.Fatalf("at the record's time: %v", err)
	}
	_, err := v.Verify(context.Background(), tok)
	wantReason(t, err, token.ReasonExpired, "token expired")
	_, err = v.VerifyAt(context.Background(), tok, produced.Add(10*time.Minute))
	wantReason(t, err, token.ReasonExpired, "token expired")
	_, err = v.VerifyAt(context.Background(), tok, e.clock.Now().Add(time.Minute))
	wantReason(t, err, token.ReasonNotYetValid, "in the future")
	nbf := e.sign(t, func(c map[string]any) { c["nbf"] = produced.Add(time.Minute).Unix() })
	_, err = v.VerifyAt(context.Background(), nbf, produced)
	wantReason(t, err, token.ReasonNotYetValid, "not valid before")
}
