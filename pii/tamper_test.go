package pii_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/inopsio/spine/pii"
)

// sealedOf splits a ciphertext string into its "spine:pii:v1:<v>:" head and
// its decoded body.
func sealedOf(t *testing.T, ct string) (string, []byte) {
	t.Helper()
	i := strings.LastIndexByte(ct, ':')
	b, err := base64.RawURLEncoding.DecodeString(ct[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return ct[:i+1], b
}

func flip(t *testing.T, ct string, at func(n int) int) string {
	head, b := sealedOf(t, ct)
	b[at(len(b))] ^= 0x01
	return head + base64.RawURLEncoding.EncodeToString(b)
}

// setField returns payload with the JSON value at the top-level name
// replaced by raw.
func setField(t *testing.T, payload []byte, name string, raw string) []byte {
	t.Helper()
	doc := decodeObject(t, payload)
	old, ok := doc[name].(string)
	if !ok {
		t.Fatalf("no string field %q", name)
	}
	q, _ := jsonQuote(old)
	if bytes.Count(payload, q) != 1 {
		t.Fatalf("field %q: value not found exactly once", name)
	}
	return bytes.Replace(payload, q, []byte(raw), 1)
}

func jsonQuote(s string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('"')
	b.WriteString(s) // test values need no escaping
	b.WriteByte('"')
	return b.Bytes(), nil
}

func TestDecryptTampered(t *testing.T) {
	ctx := context.Background()
	key := seqKey(0x11)
	// Tenants A and B share a key, and A's version 2 is the same key too:
	// so only the AAD can tell them apart.
	keys := newMemKeys().add(tenantA, 1, key).add(tenantB, 1, key).add(tenantA, 2, key)
	keys.current[tenantA] = 1
	c := newCipher(t, keys)
	plain := catalogExample(t, "lead.created")
	enc, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, plain)
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeObject(t, enc)
	nameCT, emailCT := doc["name"].(string), doc["email"].(string)
	invited := mustRead(t, "testdata/examples/user.invited.json")
	invitedEnc, err := c.Encrypt(ctx, "user.invited", "", tenantA, eventA, invited)
	if err != nil {
		t.Fatal(err)
	}
	invitedName := decodeObject(t, invitedEnc)["name"].(string)
	head, body := sealedOf(t, nameCT)
	b64 := base64.RawURLEncoding.EncodeToString
	q := func(s string) string { return `"` + s + `"` }

	tests := []struct {
		name      string
		event     string
		tenant    string
		eventID   string
		payload   []byte
		want      error
		wantField string // "" = not a field error
	}{
		{"untouched", "lead.created", tenantA, eventA, enc, nil, ""},
		{"flipped ciphertext byte", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(flip(t, nameCT, func(int) int { return pii.NonceSize }))), pii.ErrTampered, "name"},
		{"flipped nonce byte", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(flip(t, nameCT, func(int) int { return 0 }))), pii.ErrTampered, "name"},
		{"flipped tag byte", "lead.created", tenantA, eventA,
			setField(t, enc, "email", q(flip(t, emailCT, func(n int) int { return n - 1 }))), pii.ErrTampered, "email"},
		{"truncated tag", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(head+b64(body[:len(body)-1]))), pii.ErrTampered, "name"},
		{"nonce and tag only", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(head+b64(body[:pii.NonceSize+pii.TagSize]))), pii.ErrTampered, "name"},
		{"other tenant, same key", "lead.created", tenantB, eventA, enc, pii.ErrTampered, "name"},
		{"other event id", "lead.created", tenantA, eventB, enc, pii.ErrTampered, "name"},
		{"from another event, same path", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(invitedName)), pii.ErrTampered, "name"},
		{"copied to another field", "lead.created", tenantA, eventA,
			setField(t, enc, "email", q(nameCT)), pii.ErrTampered, "email"},
		{"key version changed, same key", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(strings.Replace(nameCT, ":v1:1:", ":v1:2:", 1))), pii.ErrTampered, "name"},
		{"unknown key version", "lead.created", tenantA, eventA,
			setField(t, enc, "name", q(strings.Replace(nameCT, ":v1:1:", ":v1:99:", 1))), errUnknownVersion, "name"},
	}
	// Swapped between fields, both ways: each is opened as the other field.
	swapped := bytes.Replace(bytes.Replace(enc, []byte(nameCT), []byte("N"), 1), []byte(emailCT), []byte(nameCT), 1)
	swapped = bytes.Replace(swapped, []byte(`"N"`), []byte(q(emailCT)), 1)
	tests = append(tests, struct {
		name, event, tenant, eventID string
		payload                      []byte
		want                         error
		wantField                    string
	}{"swapped name and email", "lead.created", tenantA, eventA, swapped, pii.ErrTampered, "name"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decrypt(ctx, tt.event, "", tt.tenant, tt.eventID, tt.payload)
			checkFieldErr(t, err, tt.want, tt.wantField, key)
			if tt.want == nil && !bytes.Equal(got, plain) {
				t.Errorf("Decrypt = %s, want %s", got, plain)
			}
		})
	}

	t.Run("shredded", func(t *testing.T) {
		keys.shred(tenantA)
		defer func() { keys.shredded[tenantA] = false }()
		_, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, enc)
		checkFieldErr(t, err, errShredded, "name", key)
	})
}

// checkFieldErr checks that err is want (nil: no error), a *FieldError for
// field when field is set, and leaks neither plaintext nor key.
func checkFieldErr(t *testing.T, err, want error, field string, key []byte) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var fe *pii.FieldError
	switch {
	case field != "" && !errors.As(err, &fe):
		t.Errorf("error %v is not a *pii.FieldError", err)
	case field != "" && fe.Path != field:
		t.Errorf("FieldError.Path = %q, want %q", fe.Path, field)
	case field == "" && errors.As(err, &fe):
		t.Errorf("error %v is a FieldError, want a payload error", err)
	}
	mustNotLeak(t, err, []byte("John Doe"), []byte("john.doe@example.com"), key, []byte(hex.EncodeToString(key)))
}

func TestDecryptMalformed(t *testing.T) {
	ctx := context.Background()
	key := seqKey(0x22)
	c := newCipher(t, newMemKeys().add(tenantA, 1, key))
	enc, err := c.Encrypt(ctx, "lead.created", "", tenantA, eventA, catalogExample(t, "lead.created"))
	if err != nil {
		t.Fatal(err)
	}
	nameCT := decodeObject(t, enc)["name"].(string)
	_, body := sealedOf(t, nameCT)
	good := base64.RawURLEncoding.EncodeToString(body)
	huge := strings.Repeat("A", 1<<20) // decodes to zeros: well-formed, forged
	// 37 bytes: the last of 50 characters carries 4 bits of padding, all
	// zero in odd; "B" sets one.
	odd := base64.RawURLEncoding.EncodeToString(append(bytes.Clone(body), 0))
	if !strings.HasSuffix(odd, "A") {
		t.Fatalf("odd = %s, want a final A", odd)
	}

	malformed := map[string]string{
		"plaintext":                 `"John Doe"`,
		"empty":                     `""`,
		"prefix only":               `"spine:pii:v1:"`,
		"wrong scheme version":      `"spine:pii:v2:1:` + good + `"`,
		"upper-case prefix":         `"SPINE:PII:V1:1:` + good + `"`,
		"leading space":             `" spine:pii:v1:1:` + good + `"`,
		"no key version":            `"spine:pii:v1::` + good + `"`,
		"no colon after version":    `"spine:pii:v1:1` + good + `"`,
		"leading zero":              `"spine:pii:v1:01:` + good + `"`,
		"negative version":          `"spine:pii:v1:-1:` + good + `"`,
		"version over 2^31-1":       `"spine:pii:v1:2147483648:` + good + `"`,
		"huge version":              `"spine:pii:v1:` + strings.Repeat("9", 1000) + `:` + good + `"`,
		"bad base64 character":      `"spine:pii:v1:1:` + good[:20] + "!" + good[21:] + `"`,
		"standard alphabet":         `"spine:pii:v1:1:` + base64.RawStdEncoding.EncodeToString(append([]byte{0xfb, 0xff}, body...)) + `"`,
		"padding":                   `"spine:pii:v1:1:` + base64.URLEncoding.EncodeToString(body[:35]) + `"`,
		"escaped newline in body":   `"spine:pii:v1:1:` + good[:20] + `\n` + good[20:] + `"`,
		"short":                     `"spine:pii:v1:1:` + good[:37] + `"`,
		"length 1 mod 4":            `"spine:pii:v1:1:` + good + `A"`,
		"non-zero trailing bits":    `"spine:pii:v1:1:` + odd[:len(odd)-1] + "B" + `"`,
		"trailing colon part":       `"spine:pii:v1:1:2:` + good + `"`,
		"huge body, bad last char":  `"spine:pii:v1:1:` + huge + `!"`,
		"number":                    `42`,
		"null":                      `null`,
		"object":                    `{"ct":"x"}`,
		"array":                     `["spine:pii:v1:1:` + good + `"]`,
		"ciphertext with a NUL":     `"spine:pii:v1:1:` + good + `\u0000"`,
		"whole string JSON-escaped": `"\u0073pine:pii:v1:1:` + good[:20] + `\u002b` + good[21:] + `"`,
	}
	for name, raw := range malformed {
		t.Run(name, func(t *testing.T) {
			_, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, setField(t, enc, "name", raw))
			checkFieldErr(t, err, pii.ErrMalformed, "name", key)
		})
	}
	// Escapes are JSON's business: an escaped but otherwise intact
	// ciphertext opens.
	t.Run("escaped intact", func(t *testing.T) {
		esc := `"\u0073pine:pii:v1:1:` + good + `"`
		if _, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, setField(t, enc, "name", esc)); err != nil {
			t.Fatal(err)
		}
	})
	// A huge well-formed body is decoded and fails authentication.
	t.Run("huge body", func(t *testing.T) {
		_, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, setField(t, enc, "name", `"spine:pii:v1:1:`+huge+`"`))
		checkFieldErr(t, err, pii.ErrTampered, "name", key)
	})

	invalid := map[string]string{
		"duplicate name":  `{"name":"` + nameCT + `","name":"` + nameCT + `"}`,
		"truncated":       `{"name":"` + nameCT + `"`,
		"trailing data":   `{"name":"` + nameCT + `"} {}`,
		"not an object":   `["` + nameCT + `"]`,
		"empty":           ``,
		"invalid UTF-8":   "{\"source\":\"\xff\",\"name\":\"" + nameCT + "\"}",
		"bare string":     `"` + nameCT + `"`,
		"unquoted name":   `{name:"x"}`,
		"deep duplicates": `{"a":{"b":1,"b":2},"name":"` + nameCT + `"}`,
	}
	for name, payload := range invalid {
		t.Run("payload/"+name, func(t *testing.T) {
			_, err := c.Decrypt(ctx, "lead.created", "", tenantA, eventA, []byte(payload))
			checkFieldErr(t, err, pii.ErrInvalidPayload, "", key)
		})
	}
}
