package pii_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/inopsio/spine/pii"
)

// FuzzDecrypt feeds arbitrary payloads to Decrypt. It must not panic; it
// fails only with the documented errors; and what it returns is JSON that
// differs from the input in PII values only.
func FuzzDecrypt(f *testing.F) {
	ctx := context.Background()
	keys := newMemKeys().add(tenantA, 1, seqKey(0x44))
	c := newCipher(f, keys)
	plain := catalogExample(f, "customer.synced")
	enc, err := c.Encrypt(ctx, "customer.synced", "", tenantA, eventA, plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(plain)
	f.Add([]byte(`{"contact":{"name":"spine:pii:v1:1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`))
	f.Add([]byte(`{"contact":{"name":"spine:pii:v1:7:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"contact":1}`))
	f.Add([]byte(`{"contact":null,"x":[{"contact":{"name":1}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := c.Decrypt(ctx, "customer.synced", "", tenantA, eventA, payload)
		if err != nil {
			var fe *pii.FieldError
			switch {
			case errors.Is(err, pii.ErrInvalidPayload):
			case errors.As(err, &fe) && (errors.Is(err, pii.ErrMalformed) || errors.Is(err, pii.ErrTampered) || errors.Is(err, errUnknownVersion)):
			default:
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if !jsontext.Value(out).IsValid() {
			t.Fatalf("Decrypt returned invalid JSON %q", out)
		}
		ri, err1 := c.Redact("customer.synced", "", payload)
		ro, err2 := c.Redact("customer.synced", "", out)
		if err1 != nil || err2 != nil || string(ri) != string(ro) {
			t.Fatalf("Decrypt changed more than PII values:\n%q\n%q (%v, %v)", payload, out, err1, err2)
		}
	})
}

// FuzzRoundTrip: any strings, encrypted and decrypted, come back, and the
// encrypted payload holds only ciphertexts at PII paths.
func FuzzRoundTrip(f *testing.F) {
	ctx := context.Background()
	c := newCipher(f, newMemKeys().add(tenantA, 1, seqKey(0x55)))
	f.Add("John Doe", "Grüße\n\"x\"", "+4940123456789")
	f.Add("", "\u2028\x00", "spine:pii:v1:1:AAAA")
	f.Fuzz(func(t *testing.T, name, email, phone string) {
		plain, err := json.Marshal(map[string]any{
			"company_name": name, // not PII: must stay as it is
			"contact":      map[string]string{"name": name, "email": email, "phone": phone},
		})
		if err != nil {
			t.Skip()
		}
		enc, err := c.Encrypt(ctx, "customer.synced", "", tenantA, eventA, plain)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			CompanyName string            `json:"company_name"`
			Contact     map[string]string `json:"contact"`
		}
		if err := json.Unmarshal(enc, &e); err != nil {
			t.Fatal(err)
		}
		for k, v := range e.Contact {
			if !pii.IsCiphertext(v) {
				t.Fatalf("contact.%s = %q is not a ciphertext", k, v)
			}
		}
		dec, err := c.Decrypt(ctx, "customer.synced", "", tenantA, eventA, enc)
		if err != nil {
			t.Fatal(err)
		}
		var want, got map[string]any
		if json.Unmarshal(plain, &want) != nil || json.Unmarshal(dec, &got) != nil {
			t.Fatal("not JSON")
		}
		if w, g := mustJSON(t, want), mustJSON(t, got); w != g {
			t.Fatalf("round trip: %s, want %s", g, w)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
