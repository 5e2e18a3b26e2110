package token_test

import (
	"context"
	"testing"

	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

// BenchmarkVerify measures Verify with the JWKS cached: "cached" is the
// consumer's steady state (the same producer token on every record),
// "uncached" a full parse and signature check per call.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{issuer.RS256, issuer.ES256} {
		for _, cache := range []struct {
			name string
			size int
		}{{"cached", 0}, {"uncached", -1}} {
			b.Run(alg+"/"+cache.name, func(b *testing.B) {
				e := newEnv(b, func(c *issuer.Config) { c.Algorithm = alg })
				v := e.verifier(b, func(c *token.VerifierConfig) { c.CacheSize = cache.size })
				hdr := "Bearer " + e.issue(b)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := v.Verify(ctx, hdr); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSourceHeader measures a producer's per-record cost: the cached
// token as a header value.
func BenchmarkSourceHeader(b *testing.B) {
	e := newEnv(b, nil)
	s := e.source(b, client, nil)
	ctx := context.Background()
	if _, err := s.Header(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Header(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
