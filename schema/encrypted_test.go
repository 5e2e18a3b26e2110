package schema

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
)

// A ciphertext string of package pii's golden vectors (pii/testdata).
const goldenCT = "spine:pii:v1:1:AAECAwQFBgcICQoLDW2-deWhrX7rQPIBNELDKOzlQ18ZHHT-"

func encValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := NewValidator(catalog.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "catalog", "testdata", "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setPath sets the value at a dotted path if the path exists; it reports
// whether it did.
func setPath(doc map[string]any, path string, val any) bool {
	segs := strings.Split(path, ".")
	for _, s := range segs[:len(segs)-1] {
		next, ok := doc[s].(map[string]any)
		if !ok {
			return false
		}
		doc = next
	}
	last := segs[len(segs)-1]
	if _, ok := doc[last]; !ok {
		return false
	}
	doc[last] = val
	return true
}

// withPII returns the example with each present PII field set to val, and
// the pointers of those fields.
func withPII(t testing.TB, plain []byte, paths []string, val any) ([]byte, []string) {
	t.Helper()
	var doc map[string]any
	if err := jsonv2.Unmarshal(plain, &doc); err != nil {
		t.Fatal(err)
	}
	var ptrs []string
	for _, p := range paths {
		if setPath(doc, p, val) {
			ptrs = append(ptrs, "/"+strings.ReplaceAll(p, ".", "/"))
		}
	}
	out, err := jsonv2.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out, ptrs
}

// referenceOf is the encrypted variant without its fast path.
func referenceOf(c *compiled) *compiled {
	r := *c
	r.fast = nil
	return &r
}

// variant returns the encrypted variant of a schema version.
func variant(t testing.TB, v *Validator, eventName, version string) *compiled {
	t.Helper()
	if _, err := v.ValidateKeyEncrypted(eventName, version, []byte(`{}`)); err != nil && !errors.Is(err, event.ErrInvalid) {
		t.Fatal(err)
	}
	c := v.encrypted.schemas[versionKey{eventName, version}]
	if c == nil {
		t.Fatalf("%s %s: no encrypted variant", eventName, version)
	}
	return c
}

func TestValidateKeyEncryptedCatalog(t *testing.T) {
	v := encValidator(t)
	n := 0
	for _, e := range catalog.MustDefault().Events() {
		plain := readExample(t, e.Name)
		for _, sv := range e.Versions {
			if len(sv.PII) == 0 {
				continue
			}
			n++
			t.Run(e.Name+"/"+sv.Version, func(t *testing.T) {
				want, err := v.ValidateKey(e.Name, sv.Version, plain)
				if err != nil {
					t.Fatalf("plaintext example invalid: %v", err)
				}
				c := variant(t, v, e.Name, sv.Version)
				if c.fast == nil {
					t.Error("the encrypted variant has no fast path")
				}
				enc, ptrs := withPII(t, plain, sv.PII, goldenCT)
				key, err := v.ValidateKeyEncrypted(e.Name, sv.Version, enc)
				if err != nil || key != want {
					t.Fatalf("ValidateKeyEncrypted(encrypted) = %q, %v; want %q", key, err, want)
				}
				if _, err := v.validateKey(e.Name, referenceOf(c), enc); err != nil {
					t.Errorf("reference path: %v", err)
				}
				if len(ptrs) == 0 {
					return // the example has no PII field: plaintext is fine as is
				}
				// Plaintext PII where ciphertext belongs: one violation per field.
				_, err = v.ValidateKeyEncrypted(e.Name, sv.Version, plain)
				var ve *event.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("ValidateKeyEncrypted(plaintext) = %v, want a validation error", err)
				}
				got := map[string]bool{}
				for _, vi := range ve.Violations {
					got[vi.Pointer] = true
					if !strings.Contains(vi.Reason, "value withheld: PII") {
						t.Errorf("%s: reason %q does not withhold the value", vi.Pointer, vi.Reason)
					}
				}
				for _, p := range ptrs {
					if !got[p] {
						t.Errorf("no violation at %s: %v", p, ve.Violations)
					}
				}
				if len(got) != len(ptrs) {
					t.Errorf("violations %v, want exactly the PII fields %v", ve.Violations, ptrs)
				}
			})
		}
	}
	if n < 12 {
		t.Errorf("only %d schema versions with PII checked", n)
	}
}

func TestValidateKeyEncryptedCases(t *testing.T) {
	v := encValidator(t)
	c := variant(t, v, "lead.created", "1.0.0")
	plain := readExample(t, "lead.created")
	body := "AAECAwQFBgcICQoLDW2-deWhrX7rQPIBNELDKOzlQ18ZHHT-"
	tests := []struct {
		name    string
		value   any // the value of the name field; nil: leave the example's
		mutate  func(map[string]any)
		pointer string // "" = valid
	}{
		{"golden ciphertext", goldenCT, nil, ""},
		{"key version 0", "spine:pii:v1:0:" + body, nil, ""},
		{"key version 2^31-1", "spine:pii:v1:2147483647:" + body, nil, ""},
		{"38 characters", "spine:pii:v1:1:" + strings.Repeat("A", 38), nil, ""},
		{"plaintext", "John Doe", nil, "/name"},
		{"empty", "", nil, "/name"},
		{"37 characters", "spine:pii:v1:1:" + strings.Repeat("A", 37), nil, "/name"},
		{"leading zero", "spine:pii:v1:01:" + body, nil, "/name"},
		{"11-digit version", "spine:pii:v1:12345678901:" + body, nil, "/name"},
		{"padding", "spine:pii:v1:1:" + body + "==", nil, "/name"},
		{"standard base64", "spine:pii:v1:1:" + body + "+/", nil, "/name"},
		{"newline", "spine:pii:v1:1:" + body + "\n", nil, "/name"},
		{"other scheme", "spine:pii:v2:1:" + body, nil, "/name"},
		{"number", 42.0, nil, "/name"},
		{"PII missing", nil, func(m map[string]any) { delete(m, "name") }, "/name"},
		{"non-PII violation still caught", goldenCT, func(m map[string]any) { m["tenant_id"] = "not-a-uuid" }, "/tenant_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := jsonv2.Unmarshal(plain, &doc); err != nil {
				t.Fatal(err)
			}
			doc["email"] = goldenCT
			if tt.value != nil {
				doc["name"] = tt.value
			}
			if tt.mutate != nil {
				tt.mutate(doc)
			}
			p, err := jsonv2.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.ValidateKeyEncrypted("lead.created", "", p)
			_, refErr := v.validateKey("lead.created", referenceOf(c), p)
			if (err == nil) != (refErr == nil) {
				t.Fatalf("fast and reference paths disagree: %v / %v", err, refErr)
			}
			if tt.pointer == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ve *event.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Pointer != tt.pointer {
				t.Fatalf("error %v, want one violation at %s", err, tt.pointer)
			}
			if s, ok := tt.value.(string); ok && len(s) > 3 && strings.Contains(ve.Violations[0].Reason, s) {
				t.Errorf("reason %q quotes the value", ve.Violations[0].Reason)
			}
		})
	}
}

func TestValidateKeyEncryptedWithoutPII(t *testing.T) {
	v := encValidator(t)
	p := readExample(t, "invoice.generated")
	k1, err1 := v.ValidateKey("invoice.generated", "", p)
	k2, err2 := v.ValidateKeyEncrypted("invoice.generated", "", p)
	if err1 != nil || err2 != nil || k1 != k2 {
		t.Errorf("ValidateKey = %q, %v; ValidateKeyEncrypted = %q, %v", k1, err1, k2, err2)
	}
	if v.encrypted.schemas != nil {
		t.Error("variants compiled for an event without PII")
	}
	bad := []byte(`{"tenant_id":"x"}`)
	if _, err := v.ValidateKeyEncrypted("invoice.generated", "", bad); !errors.Is(err, event.ErrInvalid) {
		t.Errorf("invalid payload: %v", err)
	}
}

func TestValidateKeyEncryptedUnknown(t *testing.T) {
	v := encValidator(t)
	var ue *catalog.UnknownEventError
	if _, err := v.ValidateKeyEncrypted("no.such.event", "", []byte(`{}`)); !errors.As(err, &ue) {
		t.Errorf("unknown event: %v", err)
	}
	var uv *UnknownVersionError
	if _, err := v.ValidateKeyEncrypted("lead.created", "9.0.0", []byte(`{}`)); !errors.As(err, &uv) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestEncryptedPIIPattern(t *testing.T) {
	re := regexp.MustCompile(EncryptedPIIPattern)
	// Ciphertexts of pii/testdata/vectors.json.
	for _, s := range []string{
		goldenCT,
		"spine:pii:v1:12:ICEiIyQlJicoKSorsIrisGYJgtslVDyKZj1td4dim_pRTVBk1mEgQR7P",
		"spine:pii:v1:1:QEFCQ0RFRkdISUpLHnSVxcA-NtY1Gg-JVoqdcw",
	} {
		if !re.MatchString(s) {
			t.Errorf("pattern refuses %q", s)
		}
	}
}

// The variants are compiled once, on first use, by whichever goroutine
// comes first.
func TestValidateKeyEncryptedConcurrentFirstUse(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := encValidator(t)
	p, _ := withPII(t, readExample(t, "lead.created"), []string{"name", "email"}, goldenCT)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = v.ValidateKeyEncrypted("lead.created", "", p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkValidateKeyEncrypted(b *testing.B) {
	v := encValidator(b)
	p, _ := withPII(b, readExample(b, "lead.created"), []string{"name", "email"}, goldenCT)
	if _, err := v.ValidateKeyEncrypted("lead.created", "", p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := v.ValidateKeyEncrypted("lead.created", "", p); err != nil {
			b.Fatal(err)
		}
	}
}
