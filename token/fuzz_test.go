package token_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/inopsio/spine/token"
)

// FuzzVerify: no input panics Verify, every rejection is a *token.Error, and
// whatever is accepted carries the issuer's claims.
func FuzzVerify(f *testing.F) {
	e := newEnv(f, nil)
	v := e.verifier(f, nil)
	good := e.issue(f)
	parts := strings.Split(good, ".")
	f.Add("Bearer " + good)
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(b64(`{"alg":"none"}`) + "." + parts[1] + ".")
	f.Add(b64(`{"alg":"RS256","crit":["exp"],"exp":1}`) + "." + parts[1] + "." + parts[2])
	f.Add(b64(`{"alg":"ES256","kid":"x","jwk":{"kty":"EC"}}`) + "." + b64(`[]`) + "." + parts[2])
	f.Add(forge(f, jose.RS256, attackerRSA(f), e.is.SigningKeyID(), e.claims()))
	f.Add("Bearer \x00.\xff.\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := v.Verify(context.Background(), in)
		if err != nil {
			var te *token.Error
			if !errors.As(err, &te) || te.Reason.Sentinel() == nil {
				t.Fatalf("error %v (%T) is not a *token.Error with a known reason", err, err)
			}
			return
		}
		if c.Issuer != e.url || c.ClientID == "" || c.Expiry.IsZero() {
			t.Fatalf("accepted %q with claims %+v", in, c)
		}
	})
}
