package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts an issuer on a real listener; open, when set, builds it
// (from a data dir) instead of issuer.New.
func serve(t testing.TB, cfg issuer.Config, open func(issuer.Config) (*issuer.Issuer, error)) (*issuer.Issuer, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg.URL = "http://" + srv.Listener.Addr().String() + "/realms/spine"
	if open == nil {
		open = issuer.New
	}
	is, err := open(cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = is
	srv.Start()
	t.Cleanup(srv.Close)
	return is, srv
}

func getJSON(t testing.TB, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %s", u, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	is, srv := serve(t, issuer.Config{Clients: []string{"crm-service"}}, nil)
	var doc map[string]any
	getJSON(t, srv.Client(), is.URL()+"/.well-known/openid-configuration", &doc)
	if doc["issuer"] != is.URL() || doc["token_endpoint"] != is.URL()+"/protocol/openid-connect/token" || doc["jwks_uri"] != is.URL()+"/protocol/openid-connect/certs" {
		t.Fatalf("discovery %v", doc)
	}
	var raw map[string][]map[string]any
	getJSON(t, srv.Client(), is.JWKSURL(), &raw)
	var algs []string
	for _, k := range raw["keys"] {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS publishes private member %q: %v", private, k)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" {
			t.Fatalf("key %v", k)
		}
		algs = append(algs, k["alg"].(string))
	}
	slices.Sort(algs)
	if !slices.Equal(algs, []string{"ES256", "RS256"}) {
		t.Fatalf("JWKS algorithms %v", algs)
	}
	var set jose.JSONWebKeySet
	getJSON(t, srv.Client(), is.JWKSURL(), &set)
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Fatalf("key %s not a valid public key", k.KeyID)
		}
	}
	if ids := is.KeyIDs(); len(ids) != 2 || !slices.Contains(ids, is.SigningKeyID()) {
		t.Fatalf("kids %v, signing %s", ids, is.SigningKeyID())
	}
	// Wrong path, wrong method.
	for _, c := range []struct{ method, path string }{{"GET", "/.well-known/openid-configuration"}, {"POST", "/realms/spine/protocol/openid-connect/certs"}, {"GET", "/realms/spine/protocol/openid-connect/token"}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Fatalf("%s %s: %s", c.method, c.path, resp.Status)
		}
	}
}

type tokenResponse struct {
	status int
	header http.Header
	body   map[string]any
}

func post(t testing.TB, srv *httptest.Server, u string, contentType, body string, basic *url.Userinfo) tokenResponse {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if basic != nil {
		p, _ := basic.Password()
		req.SetBasicAuth(url.QueryEscape(basic.Username()), url.QueryEscape(p))
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return tokenResponse{status: resp.StatusCode, header: resp.Header, body: m}
}

func TestTokenEndpoint(t *testing.T) {
	is, srv := serve(t, issuer.Config{Clients: []string{"crm-service", "billing-service"}}, nil)
	sec, _ := is.ClientSecret("crm-service")
	other, _ := is.ClientSecret("billing-service")
	const form = "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		ctype  string
		body   string
		basic  *url.Userinfo
		status int
		code   string
	}{
		{"basic", form, "grant_type=client_credentials", url.UserPassword("crm-service", sec), 200, ""},
		{"basic with charset", form + "; charset=utf-8", "grant_type=client_credentials&scope=events:write", url.UserPassword("crm-service", sec), 200, ""},
		{"post", form, url.Values{"grant_type": {"client_credentials"}, "client_id": {"crm-service"}, "client_secret": {sec}}.Encode(), nil, 200, ""},
		{"basic plus matching client_id", form, "grant_type=client_credentials&client_id=crm-service", url.UserPassword("crm-service", sec), 200, ""},
		{"wrong secret basic", form, "grant_type=client_credentials", url.UserPassword("crm-service", sec+"x"), 401, "invalid_client"},
		{"another client's secret", form, "grant_type=client_credentials", url.UserPassword("crm-service", other), 401, "invalid_client"},
		{"short secret", form, "grant_type=client_credentials", url.UserPassword("crm-service", sec[:10]), 401, "invalid_client"},
		{"empty secret", form, "grant_type=client_credentials&client_id=crm-service&client_secret=", nil, 401, "invalid_client"},
		{"unknown client", form, "grant_type=client_credentials", url.UserPassword("nobody", sec), 401, "invalid_client"},
		{"no credentials", form, "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"two methods", form, "grant_type=client_credentials&client_secret=" + url.QueryEscape(sec), url.UserPassword("crm-service", sec), 400, "invalid_request"},
		{"basic and other client_id", form, "grant_type=client_credentials&client_id=billing-service", url.UserPassword("crm-service", sec), 401, "invalid_client"},
		{"credentials in query only", form, "", nil, 401, "invalid_client"},
		{"no grant", form, "", url.UserPassword("crm-service", sec), 400, "invalid_request"},
		{"password grant", form, "grant_type=password&username=a&password=b", url.UserPassword("crm-service", sec), 400, "unsupported_grant_type"},
		{"json body", "application/json", `{"grant_type":"client_credentials"}`, url.UserPassword("crm-service", sec), 400, "invalid_request"},
		{"bad scope", form, "grant_type=client_credentials&scope=" + url.QueryEscape("a\"b"), url.UserPassword("crm-service", sec), 400, "invalid_scope"},
		{"huge body", form, "grant_type=client_credentials&x=" + strings.Repeat("a", 9000), url.UserPassword("crm-service", sec), 413, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := is.TokenURL()
			if c.name == "credentials in query only" {
				u += "?grant_type=client_credentials&client_id=crm-service&client_secret=" + url.QueryEscape(sec)
			}
			r := post(t, srv, u, c.ctype, c.body, c.basic)
			if r.status != c.status {
				t.Fatalf("status %d, want %d (%v)", r.status, c.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			if c.status != 200 {
				if r.body["error"] != c.code {
					t.Fatalf("error %v, want %s", r.body, c.code)
				}
				if c.status == 401 && c.basic != nil && r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate challenge")
				}
				return
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != 300.0 || r.body["access_token"] == "" {
				t.Fatalf("response %v", r.body)
			}
		})
	}
}

// TestTokenClaims: the token looks like a Keycloak service-account token.
func TestTokenClaims(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		cfg issuer.Config
		alg string
		aud any
	}{
		{issuer.Config{}, "RS256", "spine"},
		{issuer.Config{Algorithm: issuer.ES256, Audience: []string{"spine", "account"}, TokenLifetime: time.Minute}, "ES256", []any{"spine", "account"}},
	} {
		t.Run(c.alg, func(t *testing.T) {
			cfg := c.cfg
			cfg.Clients = []string{"crm-service"}
			cfg.Now = func() time.Time { return now }
			is, _ := serve(t, cfg, nil)
			tok, err := is.Issue("crm-service", "events:write")
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok.AccessToken, ".")
			var hdr, claims map[string]any
			for i, v := range []*map[string]any{&hdr, &claims} {
				b, err := base64.RawURLEncoding.DecodeString(parts[i])
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, v); err != nil {
					t.Fatal(err)
				}
			}
			if hdr["alg"] != c.alg || hdr["kid"] != is.SigningKeyID() || hdr["typ"] != "JWT" {
				t.Fatalf("header %v", hdr)
			}
			life := cfg.TokenLifetime
			if life == 0 {
				life = 5 * time.Minute
			}
			want := map[string]any{
				"iss": is.URL(), "sub": "service-account-crm-service", "azp": "crm-service", "client_id": "crm-service",
				"typ": "Bearer", "scope": "events:write", "iat": float64(now.Unix()), "exp": float64(now.Add(life).Unix()),
				"preferred_username": "service-account-crm-service",
			}
			for k, v := range want {
				if claims[k] != v {
					t.Fatalf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if fmt.Sprint(claims["aud"]) != fmt.Sprint(c.aud) || claims["jti"] == "" {
				t.Fatalf("claims %v", claims)
			}
			if tok.ExpiresIn != int64(life/time.Second) {
				t.Fatalf("expires_in %d", tok.ExpiresIn)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []issuer.Config{
		{},
		{URL: "127.0.0.1:8080"},
		{URL: "http://x/realms/a/"},
		{URL: "http://x?a=b"},
		{URL: "http://x", Algorithm: "HS256"},
		{URL: "http://x", Clients: []string{"has space"}},
		{URL: "http://x", Clients: []string{""}},
		{URL: "http://x", TokenLifetime: -time.Second},
	} {
		if _, err := issuer.New(c); err == nil {
			t.Fatalf("config %+v accepted", c)
		}
	}
	is, err := issuer.New(issuer.Config{URL: "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Issue("nobody"); err == nil {
		t.Fatal("issued to an unknown client")
	}
	if _, err := is.Rotate("HS256"); err == nil {
		t.Fatal("rotated to HS256")
	}
	if _, err := is.AddClient("bad id"); err == nil {
		t.Fatal("bad client id accepted")
	}
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestOpenSharesDataDir: what `spine dev` opens, another command reads with
// LoadCredentials and turns into a working token.Source.
func TestOpenSharesDataDir(t *testing.T) {
	dataDir := t.TempDir()
	if _, err := issuer.LoadCredentials(dataDir); err == nil || !strings.Contains(err.Error(), "start `spine dev`") {
		t.Fatalf("empty data dir: %v", err)
	}
	open := func(cfg issuer.Config) (*issuer.Issuer, error) { return issuer.Open(dataDir, cfg) }
	is, srv := serve(t, issuer.Config{Clients: []string{"crm-service"}}, open)
	dir := filepath.Join(dataDir, "issuer")
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("dir mode %v", m)
	}
	for _, f := range []string{"keys.json", "credentials.json"} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Fatalf("%s mode %v", f, m)
		}
	}
	sec, _ := is.ClientSecret("crm-service")
	kids := is.KeyIDs()

	creds, err := issuer.LoadCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if creds.URL != is.URL() || string(creds.Clients["crm-service"]) != sec {
		t.Fatalf("credentials %v", creds)
	}
	if out := fmt.Sprintf("%v %+v %#v", creds, creds, creds); strings.Contains(out, sec) {
		t.Fatalf("credentials print the secret: %s", out)
	}
	if _, err := creds.SourceConfig("nobody"); err == nil || !strings.Contains(err.Error(), `"crm-service"`) {
		t.Fatalf("unknown client: %v", err)
	}
	cfg, err := creds.SourceConfig("crm-service")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = srv.Client()
	src, err := token.NewSource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := src.Header(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(context.Background(), token.VerifierConfig{Issuer: creds.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), hdr)
	if err != nil || c.ClientID != "crm-service" {
		t.Fatalf("%+v %v", c, err)
	}

	// Rotation and new clients persist; reopening keeps keys and secrets.
	if _, err := is.Rotate(issuer.RS256); err != nil {
		t.Fatal(err)
	}
	billing, err := is.AddClient("billing-service")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := is.AddClient("billing-service"); again != billing {
		t.Fatal("AddClient replaced an existing secret")
	}
	// A careless chmod is undone on the next open.
	if err := os.Chmod(filepath.Join(dir, "keys.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	re, err := issuer.Open(dataDir, issuer.Config{URL: "http://127.0.0.1:1/realms/spine", Clients: []string{"crm-service", "notify-service"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(dir, "keys.json")); m != 0o600 {
		t.Fatalf("keys.json mode %v after reopen", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("dir mode %v after reopen", m)
	}
	if got := re.KeyIDs(); len(got) != 3 || !slices.Equal(got[:2], kids) || re.SigningKeyID() != is.SigningKeyID() {
		t.Fatalf("kids after reopen %v (active %s), before %v (active %s)", got, re.SigningKeyID(), is.KeyIDs(), is.SigningKeyID())
	}
	for id, want := range map[string]string{"crm-service": sec, "billing-service": billing} {
		if got, _ := re.ClientSecret(id); got != want {
			t.Fatalf("secret of %s changed on reopen", id)
		}
	}
	creds, err = issuer.LoadCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if creds.URL != "http://127.0.0.1:1/realms/spine" || !slices.Equal(creds.ClientIDs(), []string{"billing-service", "crm-service", "notify-service"}) {
		t.Fatalf("credentials after reopen: %s %v", creds.URL, creds.ClientIDs())
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files in %s: %v", dir, entries)
	}
}

func TestOpenRejectsBadState(t *testing.T) {
	for name, content := range map[string]string{
		"keys.json":        `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x","alg":"HS256"}],"active":{"RS256":"x"}}`,
		"credentials.json": `{"url":"http://x","clients":{"bad id":"s"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dataDir, "issuer"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dataDir, "issuer", name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := issuer.Open(dataDir, issuer.Config{URL: "http://x"}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
