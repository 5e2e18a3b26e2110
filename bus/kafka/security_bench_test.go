package kafka_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

// benchSecurity is what spec §9 adds to a client: a PII cipher over an
// in-memory keyring, and service tokens from an OIDC issuer served over
// HTTP, verified on consume.
type benchSecurity struct {
	cipher   bus.PIICipher
	source   *token.Source
	verifier *token.Verifier
}

func newBenchSecurity(b *testing.B) *benchSecurity {
	b.Helper()
	var is *issuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { is.ServeHTTP(w, r) }))
	b.Cleanup(srv.Close)
	var err error
	if is, err = issuer.New(issuer.Config{URL: srv.URL, Clients: []string{"crm-service"}}); err != nil {
		b.Fatal(err)
	}
	cfg, err := is.Credentials().SourceConfig("crm-service")
	if err != nil {
		b.Fatal(err)
	}
	s := &benchSecurity{cipher: bustest.NewPIICipher(b, catalog.MustDefault())}
	if s.source, err = token.NewSource(b.Context(), cfg); err != nil {
		b.Fatal(err)
	}
	if s.verifier, err = token.NewVerifier(b.Context(), token.VerifierConfig{Issuer: srv.URL}); err != nil {
		b.Fatal(err)
	}
	return s
}

func (s *benchSecurity) producer(b *testing.B, tr bus.Transport) *bus.Client {
	c, err := bus.New(tr, bus.WithLogger(testLogger()), bus.WithSource("crm-service"), bus.WithPII(s.cipher), bus.WithTokenSource(s.source))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func (s *benchSecurity) consumer(b *testing.B, tr bus.Transport) *bus.Client {
	c, err := bus.New(tr, bus.WithLogger(testLogger()), bus.WithSource("analytics-service"), bus.WithPII(s.cipher), bus.WithTokenVerifier(s.verifier))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// newPlainClient is the baseline: PII sent as it is, no tokens.
func newPlainClient(b *testing.B, tr bus.Transport) *bus.Client {
	c, err := bus.New(tr, bus.WithLogger(testLogger()), bus.WithPlaintextPII())
	if err != nil {
		b.Fatal(err)
	}
	return c
}
