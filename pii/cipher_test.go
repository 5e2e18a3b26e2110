package pii_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/pii"
)

func TestNew(t *testing.T) {
	if _, err := pii.New(nil, newMemKeys()); err == nil {
		t.Error("New(nil catalog) succeeded")
	}
	if _, err := pii.New(catalog.MustDefault(), nil); err == nil {
		t.Error("New(nil keys) succeeded")
	}
}

func TestHasPII(t *testing.T) {
	c := newCipher(t, newMemKeys())
	tests := []struct {
		event, version string
		want           bool
		err            bool
	}{
		{"lead.created", "", true, false},
		{"lead.created", "1.0.0", true, false},
		{"customer.synced", "1.0.0", true, false},
		{"invoice.generated", "", false, false},
		{"lead.created", "9.9.9", false, true},
		{"no.such.event", "", false, true},
	}
	for _, tt := range tests {
		got, err := c.HasPII(tt.event, tt.version)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("HasPII(%s, %q) = %v, %v; want %v, error %v", tt.event, tt.version, got, err, tt.want, tt.err)
		}
	}
	var ue *catalog.UnknownEventError
	if _, err := c.HasPII("no.such.event", ""); !errors.As(err, &ue) {
		t.Errorf("unknown event: %v, want *catalog.UnknownEventError", err)
	}
}

func TestEncryptErrors(t *testing.T) {
	ctx := context.Background()
	key := seqKey(0x33)
	keys := newMemKeys().add(tenantA, 1, key).add(tenantB, 1, []byte("sixteen byte key"))
	keys.add("shredded-tenant", 1, key).shred("shredded-tenant")
	c := newCipher(t, keys)
	lead := catalogExample(t, "lead.created")
	tests := []struct {
		name, event, version, tenant, eventID string
		payload                               string
		want                                  error // nil: any error
		field                                 string
	}{
		{"number", "lead.created", "", tenantA, eventA, `{"name":42}`, pii.ErrNotString, "name"},
		{"null", "lead.created", "", tenantA, eventA, `{"email":null}`, pii.ErrNotString, "email"},
		{"object", "customer.synced", "", tenantA, eventA, `{"contact":{"phone":{"n":1}}}`, pii.ErrNotString, "contact.phone"},
		{"duplicate PII name", "lead.created", "", tenantA, eventA, `{"name":"a","name":"b"}`, pii.ErrInvalidPayload, ""},
		{"syntax", "lead.created", "", tenantA, eventA, `{"name":"John Doe",}`, pii.ErrInvalidPayload, ""},
		{"array", "lead.created", "", tenantA, eventA, `[{"name":"John Doe"}]`, pii.ErrInvalidPayload, ""},
		{"shredded tenant", "lead.created", "", "shredded-tenant", eventA, string(lead), errShredded, ""},
		{"tenant without key", "lead.created", "", "no-key-tenant", eventA, string(lead), errUnknownVersion, ""},
		{"wrong key size", "lead.created", "", tenantB, eventA, string(lead), nil, ""},
		{"no tenant", "lead.created", "", "", eventA, string(lead), nil, ""},
		{"no event id", "lead.created", "", tenantA, "", string(lead), nil, ""},
		{"unknown version", "lead.created", "0.9.0", tenantA, eventA, string(lead), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Encrypt(ctx, tt.event, tt.version, tt.tenant, tt.eventID, []byte(tt.payload))
			if err == nil || out != nil {
				t.Fatalf("Encrypt = %q, %v; want an error and no payload", out, err)
			}
			if tt.want != nil {
				checkFieldErr(t, err, tt.want, tt.field, key)
			}
			mustNotLeak(t, err, []byte("John Doe"), []byte("john.doe@example.com"), []byte("sixteen byte key"))
		})
	}
	var ue *catalog.UnknownEventError
	if _, err := c.Encrypt(ctx, "no.such.event", "", tenantA, eventA, lead); !errors.As(err, &ue) {
		t.Errorf("unknown event: %v, want *catalog.UnknownEventError", err)
	}
	t.Run("nonce source fails", func(t *testing.T) {
		c := newCipher(t, keys, pii.WithRand(iotest.ErrReader(errors.New("entropy exhausted"))))
		if _, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead); err == nil || !strings.Contains(err.Error(), "entropy exhausted") {
			t.Errorf("Encrypt = %v, want the nonce source's error", err)
		}
	})
}

// Events without PII, and payloads without PII fields, come back as they
// are: the same slice, without allocating.
func TestNoPIIPassThrough(t *testing.T) {
	ctx := context.Background()
	c := newCipher(t, newMemKeys().add(tenantA, 1, seqKey(0)))
	invoice := catalogExample(t, "invoice.generated")
	for name, f := range map[string]func() ([]byte, error){
		"Encrypt": func() ([]byte, error) { return c.Encrypt(ctx, "invoice.generated", "", tenantA, eventA, invoice) },
		"Decrypt": func() ([]byte, error) { return c.Decrypt(ctx, "invoice.generated", "", tenantA, eventA, invoice) },
		"Redact":  func() ([]byte, error) { return c.Redact("invoice.generated", "", invoice) },
	} {
		out, err := f()
		if err != nil || &out[0] != &invoice[0] || len(out) != len(invoice) {
			t.Errorf("%s: payload not returned as is (err %v)", name, err)
		}
		if a := testing.AllocsPerRun(100, func() { _, _ = f() }); a != 0 {
			t.Errorf("%s: %v allocations, want 0", name, a)
		}
	}
	// PII event, no PII field present.
	noPII := []byte(`{"lead_id":"x","source":"web"}`)
	for name, f := range map[string]func() ([]byte, error){
		"Encrypt": func() ([]byte, error) { return c.Encrypt(ctx, "lead.created", "", tenantA, eventA, noPII) },
		"Decrypt": func() ([]byte, error) { return c.Decrypt(ctx, "lead.created", "", tenantA, eventA, noPII) },
	} {
		out, err := f()
		if err != nil || &out[0] != &noPII[0] {
			t.Errorf("%s: payload without PII fields not returned as is (err %v)", name, err)
		}
	}
}

func TestEncryptLeavesInputAndUsesFreshNonces(t *testing.T) {
	ctx := context.Background()
	c := newCipher(t, newMemKeys().add(tenantA, 1, seqKey(0)))
	lead := catalogExample(t, "lead.created")
	orig := bytes.Clone(lead)
	a, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(lead, orig) {
		t.Error("Encrypt modified its input")
	}
	if bytes.Equal(a, b) {
		t.Error("two encryptions of one payload are equal: nonces repeat")
	}
}

// Rotation: old ciphertexts name their key version and still open; each
// version is fetched once per payload.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	keys := newMemKeys().add(tenantA, 1, seqKey(1))
	c := newCipher(t, keys)
	lead := catalogExample(t, "lead.created")
	old, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead)
	if err != nil {
		t.Fatal(err)
	}
	keys.add(tenantA, 2, seqKey(2))
	cur, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(old, []byte(`"spine:pii:v1:1:`)) || !bytes.Contains(cur, []byte(`"spine:pii:v1:2:`)) {
		t.Fatalf("key versions not in the ciphertexts:\n%s\n%s", old, cur)
	}
	for _, enc := range [][]byte{old, cur} {
		keys.gets = 0
		dec, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, enc)
		if err != nil || !bytes.Equal(dec, lead) {
			t.Errorf("Decrypt = %s, %v", dec, err)
		}
		if keys.gets != 1 {
			t.Errorf("%d key fetches for two fields under one version, want 1", keys.gets)
		}
	}
}

// A value that looks like a ciphertext is encrypted again: the producer
// never forwards a ciphertext it did not make.
func TestEncryptDoesNotSkipCiphertext(t *testing.T) {
	ctx := context.Background()
	c := newCipher(t, newMemKeys().add(tenantA, 1, seqKey(0)))
	once, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, catalogExample(t, "lead.created"))
	if err != nil {
		t.Fatal(err)
	}
	twice, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, once)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, twice)
	if err != nil || !bytes.Equal(back, once) {
		t.Errorf("Decrypt(twice) = %s, %v; want the first encryption", back, err)
	}
}

func TestRedact(t *testing.T) {
	c := newCipher(t, newMemKeys())
	tests := []struct {
		name, event, payload, want string
	}{
		{"plaintext", "lead.created", `{"name":"John Doe", "email" : "j@x.io","source":"web"}`,
			`{"name":"[PII]", "email" : "[PII]","source":"web"}`},
		{"nested", "customer.synced", `{"contact":{"name":"P","phone":"+49"},"company_name":"ACME"}`,
			`{"contact":{"name":"[PII]","phone":"[PII]"},"company_name":"ACME"}`},
		{"any type", "lead.created", `{"name":{"first":"John"},"email":["j@x.io"],"x":1}`,
			`{"name":"[PII]","email":"[PII]","x":1}`},
		{"ciphertext", "lead.created", `{"name":"spine:pii:v1:1:AAAA"}`, `{"name":"[PII]"}`},
		{"no PII present", "lead.created", `{"source":"web"}`, `{"source":"web"}`},
		// An escaped name is the same name: no way around the walk.
		{"escaped name", "lead.created", `{"n\u0061me":"John Doe"}`, `{"n\u0061me":"[PII]"}`},
		{"surrounding whitespace", "lead.created", " \n{ \"name\" :\t\"John Doe\" }\r\n", " \n{ \"name\" :\t\"[PII]\" }\r\n"},
		{"parent not an object", "customer.synced", `{"contact":"P. Lang"}`, `{"contact":"P. Lang"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Redact(tt.event, "", []byte(tt.payload))
			if err != nil || string(got) != tt.want {
				t.Errorf("Redact = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	_, err := c.Redact("lead.created", "", []byte(`{"name":"John Doe"`))
	if !errors.Is(err, pii.ErrInvalidPayload) {
		t.Errorf("Redact(truncated) = %v, want ErrInvalidPayload", err)
	}
	mustNotLeak(t, err, []byte("John Doe"))
}

func TestIsCiphertext(t *testing.T) {
	const body = "AAECAwQFBgcICQoLDW2-deWhrX7rQPIBNELDKOzlQ18ZHHT-" // a golden vector's
	tests := map[string]bool{
		"spine:pii:v1:1:" + body:                    true,
		"spine:pii:v1:0:" + body:                    true,
		"spine:pii:v1:2147483647:" + body:           true,
		"spine:pii:v1:2147483648:" + body:           false,
		"spine:pii:v1:01:" + body:                   false,
		"spine:pii:v1:1:" + body[:37]:               false,
		"spine:pii:v1:1:" + body[:38]:               false, // its last character has padding bits set
		"spine:pii:v1:1:" + strings.Repeat("A", 38): true,  // 28 bytes: nonce and tag
		"spine:pii:v1:1:" + body + "=":              false,
		"spine:pii:v1:1:" + body[:47] + "+":         false,
		"John Doe":                                  false,
		"":                                          false,
	}
	for s, want := range tests {
		if got := pii.IsCiphertext(s); got != want {
			t.Errorf("IsCiphertext(%q) = %v, want %v", s, got, want)
		}
	}
}

// The Cipher is shared by a service's goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c := newCipher(t, newMemKeys().add(tenantA, 1, seqKey(0)))
	lead := catalogExample(t, "lead.created")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				enc, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, lead)
				if err != nil {
					errs <- err
					return
				}
				dec, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, enc)
				if err != nil || !bytes.Equal(dec, lead) {
					errs <- errors.Join(err, errors.New("round trip differs"))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
