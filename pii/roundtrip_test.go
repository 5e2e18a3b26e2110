package pii_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/schema"
)

// examples returns the example payloads of an event: the catalog's, and
// this package's testdata/examples, which add the PII fields the catalog's
// example leaves out and strings with escapes.
func examples(t *testing.T, name string) map[string][]byte {
	out := map[string][]byte{"catalog": catalogExample(t, name)}
	if b, err := os.ReadFile(filepath.Join("testdata", "examples", name+".json")); err == nil {
		out["pii"] = b
	}
	return out
}

// lookupPath returns the value at a dotted path of a decoded payload.
func lookupPath(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for seg := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonv2.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	return m
}

func canonical(t *testing.T, b []byte) string {
	t.Helper()
	v := jsontext.Value(bytes.Clone(b))
	if err := v.Canonicalize(); err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// Every schema version of every catalog event with PII, on every example:
// Encrypt replaces exactly the PII values, the result passes the encrypted
// validation with the same partition key, the plaintext does not, and
// Decrypt restores the payload.
func TestRoundTripCatalogEvents(t *testing.T) {
	ctx := context.Background()
	keys := newMemKeys().add(tenantA, 1, seqKey(0x40))
	c := newCipher(t, keys)
	v, err := schema.NewValidator(catalog.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	withPII := 0
	for _, e := range catalog.MustDefault().Events() {
		for _, sv := range e.Versions {
			if len(sv.PII) == 0 {
				continue
			}
			withPII++
			seen := map[string]bool{}
			for src, plain := range examples(t, e.Name) {
				t.Run(e.Name+"/"+sv.Version+"/"+src, func(t *testing.T) {
					wantKey, err := v.ValidateKey(e.Name, sv.Version, plain)
					if err != nil {
						t.Fatalf("the example is not valid plaintext: %v", err)
					}
					enc, err := c.Encrypt(ctx, e.Name, sv.Version, tenantA, eventA, plain)
					if err != nil {
						t.Fatal(err)
					}
					doc, encDoc := decodeObject(t, plain), decodeObject(t, enc)
					present := 0
					for _, p := range sv.PII {
						pv, ok := lookupPath(doc, p)
						if !ok {
							continue
						}
						seen[p], present = true, present+1
						ev, _ := lookupPath(encDoc, p)
						s, _ := ev.(string)
						if !pii.IsCiphertext(s) {
							t.Errorf("%s: %q is not a ciphertext", p, s)
						}
						if strings.Contains(string(enc), pv.(string)) {
							t.Errorf("%s: the plaintext is still in the encrypted payload", p)
						}
					}
					if present == 0 {
						// Nothing to encrypt: the payload itself comes back.
						if &enc[0] != &plain[0] {
							t.Error("a payload without PII fields was copied")
						}
						return
					}
					// Redaction hides exactly the PII spans, so equal
					// redactions mean every other byte is unchanged.
					rp, err := c.Redact(e.Name, sv.Version, plain)
					if err != nil {
						t.Fatal(err)
					}
					re, err := c.Redact(e.Name, sv.Version, enc)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(rp, re) {
						t.Errorf("non-PII bytes changed:\n%s\n%s", rp, re)
					}

					gotKey, err := v.ValidateKeyEncrypted(e.Name, sv.Version, enc)
					if err != nil || gotKey != wantKey {
						t.Errorf("ValidateKeyEncrypted(encrypted) = %q, %v; want %q", gotKey, err, wantKey)
					}
					if _, err := v.ValidateKeyEncrypted(e.Name, sv.Version, plain); !errors.Is(err, event.ErrInvalid) {
						t.Errorf("ValidateKeyEncrypted(plaintext) = %v, want a validation error", err)
					}

					dec, err := c.Decrypt(ctx, e.Name, sv.Version, tenantA, eventA, enc)
					if err != nil {
						t.Fatal(err)
					}
					if canonical(t, dec) != canonical(t, plain) {
						t.Errorf("round trip changed the payload:\n%s\n%s", plain, dec)
					}
					// The catalog's examples write strings without escapes,
					// the form Decrypt writes, so they come back byte for byte.
					if src == "catalog" && !bytes.Equal(dec, plain) {
						t.Errorf("round trip changed the bytes:\n%s\n%s", plain, dec)
					}
				})
			}
			for _, p := range sv.PII {
				if !seen[p] {
					t.Errorf("%s %s: no example holds PII field %s; add one to testdata/examples", e.Name, sv.Version, p)
				}
			}
		}
	}
	if withPII < 12 {
		t.Errorf("only %d schema versions with PII: the catalog has more", withPII)
	}
}
