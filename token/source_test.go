package token_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

// TestSourceCachesAndRefreshes: one token endpoint request per token, the
// next one when less than the margin is left.
func TestSourceCachesAndRefreshes(t *testing.T) {
	cases := []struct {
		name     string
		lifetime time.Duration
		before   time.Duration // SourceConfig.RefreshBefore
		refresh  time.Duration // expected: how long after issue the next fetch happens
	}{
		{"5m lifetime: 30s floor", 5 * time.Minute, 0, 4*time.Minute + 30*time.Second},
		{"1h lifetime: 10%", time.Hour, 0, 54 * time.Minute},
		{"40s lifetime: half", 40 * time.Second, 0, 20 * time.Second},
		{"configured 2m", 5 * time.Minute, 2 * time.Minute, 3 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *issuer.Config) { cfg.TokenLifetime = c.lifetime })
			s := e.source(t, client, func(cfg *token.SourceConfig) { cfg.RefreshBefore = c.before })
			ctx := context.Background()
			first, err := s.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				if tok, err := s.Token(ctx); err != nil || tok != first {
					t.Fatalf("cached token changed: %v", err)
				}
			}
			if n := e.tokenHits.Load(); n != 1 {
				t.Fatalf("%d token requests, want 1", n)
			}
			e.clock.Advance(c.refresh - time.Second)
			if tok, _ := s.Token(ctx); tok != first || e.tokenHits.Load() != 1 {
				t.Fatalf("refreshed %v too early", time.Second)
			}
			e.clock.Advance(time.Second)
			second, err := s.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if second == first || e.tokenHits.Load() != 2 {
				t.Fatalf("not refreshed at %v (requests %d)", c.refresh, e.tokenHits.Load())
			}
			if tok, _ := s.Token(ctx); tok != second || e.tokenHits.Load() != 2 {
				t.Fatal("second token not cached")
			}
		})
	}
}

// TestSourceSharesFetch: concurrent callers with no token share one request.
func TestSourceSharesFetch(t *testing.T) {
	e := newEnv(t, nil)
	e.gate = make(chan struct{})
	s := e.source(t, client, nil)
	var wg sync.WaitGroup
	toks := make([]string, 50)
	errs := make([]error, 50)
	for i := range toks {
		wg.Go(func() { toks[i], errs[i] = s.Token(context.Background()) })
	}
	time.Sleep(50 * time.Millisecond) // let them pile up behind the first request
	close(e.gate)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if n := e.tokenHits.Load(); n != 1 {
		t.Fatalf("%d token requests for 50 concurrent callers, want 1", n)
	}
}

// TestSourceWaiterContext: a caller waiting on another's fetch gives up when
// its own context ends.
func TestSourceWaiterContext(t *testing.T) {
	e := newEnv(t, nil)
	e.gate = make(chan struct{})
	s := e.source(t, client, nil)
	leader := make(chan error, 1)
	go func() { _, err := s.Token(context.Background()); leader <- err }()
	for e.tokenHits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
	close(e.gate)
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
}

// TestSourceRefreshFailure: a failed refresh falls back to the still-valid
// token, retries after 5 s, and reports the error once the token is too old.
func TestSourceRefreshFailure(t *testing.T) {
	e := newEnv(t, nil)
	var logs bytes.Buffer
	s := e.source(t, client, func(c *token.SourceConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := context.Background()
	first, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.failToken.Store(true)
	e.clock.Advance(4*time.Minute + 31*time.Second) // in the refresh window
	if tok, err := s.Token(ctx); err != nil || tok != first {
		t.Fatalf("fallback: %v", err)
	}
	if n := e.tokenHits.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if !strings.Contains(logs.String(), "token refresh failed") {
		t.Fatalf("no warning logged: %q", logs.String())
	}
	e.clock.Advance(4 * time.Second)
	if tok, _ := s.Token(ctx); tok != first || e.tokenHits.Load() != 2 {
		t.Fatalf("retried before 5 s (requests %d)", e.tokenHits.Load())
	}
	e.clock.Advance(time.Second)
	if tok, _ := s.Token(ctx); tok != first || e.tokenHits.Load() != 3 {
		t.Fatalf("not retried after 5 s (requests %d)", e.tokenHits.Load())
	}
	e.clock.Advance(21 * time.Second) // 4 s left: too little to hand out
	_, err = s.Token(ctx)
	var fe *token.FetchError
	if !errors.As(err, &fe) || !errors.Is(err, token.ErrTokenEndpoint) || fe.StatusCode != 503 {
		t.Fatalf("error %v", err)
	}
	e.failToken.Store(false)
	if tok, err := s.Token(ctx); err != nil || tok == first {
		t.Fatalf("recovery: %v", err)
	}
}

func TestSourceErrors(t *testing.T) {
	e := newEnv(t, nil)
	const badSecret = "wrong-secret-value-do-not-print"
	cfg := token.SourceConfig{Issuer: e.url, ClientID: client, ClientSecret: badSecret, HTTPClient: e.srv.Client()}
	s, err := token.NewSource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.TokenEndpoint() != e.is.TokenURL() {
		t.Fatalf("token endpoint %s, want %s", s.TokenEndpoint(), e.is.TokenURL())
	}
	_, err = s.Header(context.Background())
	var fe *token.FetchError
	if !errors.As(err, &fe) || !errors.Is(err, token.ErrInvalidClient) {
		t.Fatalf("error %v", err)
	}
	if fe.StatusCode != 401 || fe.Code != "invalid_client" || fe.ClientID != client || fe.URL != e.is.TokenURL() {
		t.Fatalf("%+v", fe)
	}
	want := fmt.Sprintf(`token: token %s for client "crm-service": client credentials rejected: HTTP 401 invalid_client ("Invalid client or Invalid client credentials")`, e.is.TokenURL())
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
	for _, out := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprint(cfg.ClientSecret)} {
		if strings.Contains(out, badSecret) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "cfg", cfg, "secret", cfg.ClientSecret)
	if strings.Contains(logs.String(), badSecret) {
		t.Fatalf("secret logged: %s", logs.String())
	}

	// Unknown client: the same answer as a wrong secret.
	_, err = e.source(t, client, func(c *token.SourceConfig) { c.ClientID = "nobody" }).Token(context.Background())
	if !errors.Is(err, token.ErrInvalidClient) {
		t.Fatalf("unknown client: %v", err)
	}

	// Configuration.
	for _, c := range []token.SourceConfig{{}, {Issuer: e.url}, {Issuer: e.url, ClientID: "x"}, {Issuer: e.url, ClientID: "x", ClientSecret: "s", RefreshBefore: -1}} {
		if _, err := token.NewSource(context.Background(), c); err == nil {
			t.Fatalf("config %+v accepted", c)
		}
	}

	// Issuer down at start.
	down := httptest.NewServer(http.NotFoundHandler())
	u := down.URL
	down.Close()
	_, err = token.NewSource(context.Background(), token.SourceConfig{Issuer: u, ClientID: "x", ClientSecret: "s"})
	if !errors.As(err, &fe) || !errors.Is(err, token.ErrUnreachable) || fe.Op != "discovery" {
		t.Fatalf("error %v", err)
	}

	// Issuer gone after discovery.
	s = e.source(t, client, nil)
	e.srv.Close()
	_, err = s.Token(context.Background())
	if !errors.As(err, &fe) || !errors.Is(err, token.ErrUnreachable) || fe.Op != "token" {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "issuer unreachable: ") || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("error %q does not say what failed", err)
	}
}

// TestSourceEchoedSecret: a server that echoes the request cannot make the
// secret appear in the error.
func TestSourceEchoedSecret(t *testing.T) {
	const secret = "s3cr3t-echoed"
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/token", srv.URL+"/jwks")
			return
		}
		_, pw, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_scope","error_description":"bad secret %s"}`, pw)
	}))
	defer srv.Close()
	s, err := token.NewSource(context.Background(), token.SourceConfig{Issuer: srv.URL, ClientID: "c", ClientSecret: secret, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Token(context.Background())
	if !errors.Is(err, token.ErrTokenEndpoint) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error %v", err)
	}
}
