package token_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/token"
)

// TestKeycloakGolden verifies a token captured from a real Keycloak 25.0.6
// (`kc.sh start-dev`, realm "spine", confidential client "crm-service" with
// service accounts and an Audience mapper adding "spine"), against that
// realm's discovery document and JWKS (which also lists an RSA-OAEP
// encryption key that must be skipped), served from testdata.
func TestKeycloakGolden(t *testing.T) {
	dir := filepath.Join("testdata", "keycloak-25.0.6")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	discovery, certs := read("openid-configuration.json"), read("certs.json")
	raw := strings.TrimSpace(string(read("access_token.jwt")))
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(discovery, &doc); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var times struct{ Iat, Exp int64 }
	if err := json.Unmarshal(payload, &times); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/spine/.well-known/openid-configuration":
			w.Write(discovery)
		case "/realms/spine/protocol/openid-connect/certs":
			w.Write(certs)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// The documents name 127.0.0.1:18080; every request goes to srv.
	hc := &http.Client{Transport: rewrite{to: srv.Listener.Addr().String(), base: srv.Client().Transport}}
	now := time.Unix(times.Iat, 0).Add(time.Minute)
	v, err := token.NewVerifier(context.Background(), token.VerifierConfig{
		Issuer: doc.Issuer, HTTPClient: hc, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), "Bearer "+raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "crm-service" || c.Algorithm != "RS256" || c.Type != "Bearer" || !c.HasScope("email") ||
		c.Raw["preferred_username"] != "service-account-crm-service" || c.Expiry.Unix() != times.Exp {
		t.Fatalf("claims %+v", c)
	}

	parts := strings.Split(raw, ".")
	tampered := strings.Replace(string(payload), `"crm-service"`, `"billing-service"`, -1)
	_, err = v.Verify(context.Background(), parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(tampered))+"."+parts[2])
	if !errors.Is(err, token.ErrSignature) {
		t.Fatalf("tampered Keycloak token: %v", err)
	}
	now = time.Unix(times.Exp, 0).Add(31 * time.Second)
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("expired Keycloak token: %v", err)
	}
}

// TestKeycloakLive runs against the real Keycloak that scripts/services.sh
// starts (realm spine; eval "$(scripts/services.sh env)" exports):
//
//	SPINE_TEST_KEYCLOAK=http://127.0.0.1:18080/realms/spine
//	SPINE_TEST_KEYCLOAK_CLIENT_ID=crm-service
//	SPINE_TEST_KEYCLOAK_CLIENT_SECRET=...
//
// The client has service accounts enabled and an Audience mapper adding
// "spine" to its access tokens. Like every real service: skipped when the
// variables are unset, a failure under SPINE_REQUIRE_SERVICES=1 (CI).
func TestKeycloakLive(t *testing.T) {
	iss := bustest.Service(t, "SPINE_TEST_KEYCLOAK")
	id := bustest.Service(t, "SPINE_TEST_KEYCLOAK_CLIENT_ID")
	secret := bustest.Service(t, "SPINE_TEST_KEYCLOAK_CLIENT_SECRET")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The default HTTP client: what services get without configuring one.
	src, err := token.NewSource(ctx, token.SourceConfig{Issuer: iss, ClientID: id, ClientSecret: token.Secret(secret)})
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := src.Header(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := src.Header(ctx)
	if err != nil || again != hdr {
		t.Fatalf("token not cached: %v", err)
	}
	v, err := token.NewVerifier(ctx, token.VerifierConfig{Issuer: iss})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(ctx, hdr)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != id || c.Issuer != iss {
		t.Fatalf("claims %+v", c)
	}
	t.Logf("Keycloak token: client %s sub %s aud %v scopes %v kid %s alg %s lifetime %v",
		c.ClientID, c.Subject, c.Audience, c.Scopes, c.KeyID, c.Algorithm, c.Expiry.Sub(c.IssuedAt))

	// Wrong audience: Keycloak's token is not for "billing".
	other, err := token.NewVerifier(ctx, token.VerifierConfig{Issuer: iss, Audience: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, hdr); !errors.Is(err, token.ErrAudience) {
		t.Fatalf("audience: %v", err)
	}

	// A wrong secret: Keycloak answers 401 unauthorized_client.
	bad, err := token.NewSource(ctx, token.SourceConfig{Issuer: iss, ClientID: id, ClientSecret: token.Secret(secret + "x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Token(ctx)
	if !errors.Is(err, token.ErrInvalidClient) || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong secret: %v", err)
	}
	t.Logf("wrong secret: %v", err)
}
