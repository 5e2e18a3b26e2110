package issuer

import (
	"encoding/json"
	"testing"
)

// FuzzKeyring: whatever keys.json holds, decoding and validating it (what
// Open does before using it) fails cleanly or yields keys that sign.
func FuzzKeyring(f *testing.F) {
	var k keyring
	if _, err := k.ensure(RS256, ES256); err != nil {
		f.Fatal(err)
	}
	valid, err := json.Marshal(&k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(valid))
	f.Add(`{"keys":[],"active":{}}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA","kid":"k","alg":"ES256"}],"active":{"ES256":"k"}}`)
	f.Add(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x","alg":"HS256"}],"active":{"RS256":"x"}}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, data string) {
		var k keyring
		if err := json.Unmarshal([]byte(data), &k); err != nil {
			return
		}
		if err := k.validate(); err != nil {
			return
		}
		is := newIssuer(Config{URL: "http://x", Algorithm: RS256, Audience: []string{"spine"}, TokenLifetime: 1}, "")
		is.keys = k
		for _, alg := range []string{RS256, ES256} {
			key, ok := k.key(k.Active[alg])
			if !ok || key.Algorithm != alg {
				continue // Open would generate one
			}
			is.cfg.Algorithm = alg
			if _, err := is.Sign(map[string]any{"a": 1}); err != nil {
				t.Fatalf("validated %s key %q does not sign: %v", alg, key.KeyID, err)
			}
		}
	})
}
