package schema_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/schema"
)

func newValidator(t testing.TB) *schema.Validator {
	t.Helper()
	v, err := schema.NewValidator(catalog.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// violations returns the violations of a validation error, failing the test
// for any other outcome.
func violations(t *testing.T, err error) []event.Violation {
	t.Helper()
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v (%T), want *event.ValidationError", err, err)
	}
	if !errors.Is(err, event.ErrInvalid) || ve.Part != event.PartPayload || len(ve.Violations) == 0 {
		t.Fatalf("malformed validation error: %#v", ve)
	}
	return ve.Violations
}

// The spec's four example payloads are normative (spec §4).
func TestSpecExamplesValidate(t *testing.T) {
	v := newValidator(t)
	files, _ := filepath.Glob("testdata/spec/*.json")
	if len(files) != 4 {
		t.Fatalf("want the 4 spec examples, found %d", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(name, "", mustRead(t, f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCatalogExamplesValidate(t *testing.T) {
	v := newValidator(t)
	for _, e := range catalog.MustDefault().Events() {
		t.Run(e.Name, func(t *testing.T) {
			p := mustRead(t, filepath.Join("..", "catalog", "testdata", "examples", e.Name+".json"))
			if err := v.Validate(e.Name, "", p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type invalidCase struct {
	Name           string          `json:"name"`
	Payload        json.RawMessage `json:"payload"`
	Pointer        string          `json:"pointer"`
	ReasonContains string          `json:"reason_contains"`
}

// Each case breaks one rule; the error must point at that field and name it.
func TestCatalogInvalidPayloads(t *testing.T) {
	v := newValidator(t)
	for _, e := range catalog.MustDefault().Events() {
		var cases []invalidCase
		if err := json.Unmarshal(mustRead(t, filepath.Join("..", "catalog", "testdata", "invalid", e.Name+".json")), &cases); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if len(cases) < 4 {
			t.Errorf("%s: only %d invalid cases, want at least 4", e.Name, len(cases))
		}
		for _, c := range cases {
			t.Run(e.Name+"/"+c.Name, func(t *testing.T) {
				vs := violations(t, v.Validate(e.Name, "", c.Payload))
				for _, got := range vs {
					if got.Pointer == c.Pointer && strings.Contains(got.Reason, c.ReasonContains) {
						return
					}
				}
				t.Errorf("no violation at %q naming %q; got %v", c.Pointer, c.ReasonContains, vs)
			})
		}
	}
}

func TestHostilePayloads(t *testing.T) {
	v := newValidator(t)
	valid := string(mustRead(t, "testdata/spec/lead.created.json"))
	tests := []struct {
		name, payload, pointer, reason string
	}{
		{"empty", "", "", "malformed JSON"},
		{"truncated", `{"lead_id":`, "/lead_id", "malformed JSON at byte"},
		{"not json", `hello`, "", "malformed JSON at byte 0"},
		{"trailing data", valid + `{}`, "", "malformed JSON"},
		{"duplicate key", `{"email":"a@b.co","email":"x"}`, "/email", "duplicate"},
		{"invalid utf-8", "{\"name\":\"\xff\xfe\"}", "/name", "UTF-8"},
		{"array", `[1,2,3]`, "", "want object"},
		{"null", `null`, "", "want object"},
		{"string", `"lead"`, "", "want object"},
		{"deep nesting", strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000), "", ""},
		{"wrong type", strings.Replace(valid, `"John Doe"`, `42`, 1), "/name", "name"},
		{"huge string", strings.Replace(valid, `"John Doe"`, `"`+strings.Repeat("x", 300)+`"`, 1), "/name", "maxLength"},
		{"control char in email", strings.Replace(valid, `john.doe@example.com`, `john\u0000@example.com`, 1), "/email", "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := violations(t, v.Validate("lead.created", "", []byte(tt.payload)))
			if tt.reason == "" {
				return // only: rejected cleanly, no crash
			}
			for _, got := range vs {
				if got.Pointer == tt.pointer && strings.Contains(got.Reason, tt.reason) {
					return
				}
			}
			t.Errorf("want a violation at %q containing %q; got %v", tt.pointer, tt.reason, vs)
		})
	}
}

func TestOversizedPayload(t *testing.T) {
	v, err := schema.NewValidator(catalog.MustDefault(), schema.WithMaxPayloadBytes(64))
	if err != nil {
		t.Fatal(err)
	}
	vs := violations(t, v.Validate("lead.created", "", mustRead(t, "testdata/spec/lead.created.json")))
	if !strings.Contains(vs[0].Reason, "over the 64-byte limit") {
		t.Errorf("reason = %q", vs[0].Reason)
	}
}

func TestEveryViolationReported(t *testing.T) {
	v := newValidator(t)
	vs := violations(t, v.Validate("lead.created", "", []byte(`{"lead_id":"x","email":"nope"}`)))
	want := []string{"/created_at", "/email", "/lead_id", "/name", "/source", "/tenant_id"}
	var got []string
	for _, x := range vs {
		got = append(got, x.Pointer)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pointers = %v, want %v (sorted, one per problem)", got, want)
	}
}

func TestUnknownEventAndVersion(t *testing.T) {
	v := newValidator(t)
	var ue *catalog.UnknownEventError
	if err := v.Validate("no.such.event", "", []byte(`{}`)); !errors.As(err, &ue) {
		t.Errorf("unknown event: got %v", err)
	}
	var uv *schema.UnknownVersionError
	if err := v.Validate("lead.created", "9.9.9", []byte(`{}`)); !errors.As(err, &uv) {
		t.Errorf("unknown version: got %v", err)
	}
	if err := v.Validate("lead.created", "1.0.0", mustRead(t, "testdata/spec/lead.created.json")); err != nil {
		t.Errorf("explicit version: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	v := newValidator(f)
	for _, name := range []string{"lead.created", "invoice.generated"} {
		f.Add(name, mustRead(f, "testdata/spec/"+name+".json"))
	}
	f.Add("lead.created", []byte(`{"email":"a@b.co","email":"x"}`))
	f.Add("invoice.generated", []byte(`{"amount":-1e400}`))
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		if name != "invoice.generated" {
			name = "lead.created"
		}
		err := v.Validate(name, "", payload)
		if err == nil {
			if !json.Valid(payload) {
				t.Fatalf("accepted invalid JSON %q", payload)
			}
			return
		}
		vs := violations(t, err)
		for _, x := range vs {
			if x.Pointer != "" && !strings.HasPrefix(x.Pointer, "/") {
				t.Fatalf("violation %q has a pointer that is not RFC 6901", x)
			}
			if x.Reason == "" {
				t.Fatalf("violation at %q has no reason", x.Pointer)
			}
		}
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ValidateKey returns the partition key read during validation, on both the
// fast and the reference path.
func TestValidateKey(t *testing.T) {
	v := newValidator(t)
	for _, e := range catalog.MustDefault().Events() {
		t.Run(e.Name, func(t *testing.T) {
			p := mustRead(t, filepath.Join("..", "catalog", "testdata", "examples", e.Name+".json"))
			var doc map[string]any
			if err := json.Unmarshal(p, &doc); err != nil {
				t.Fatal(err)
			}
			want := doc[e.PartitionKey].(string)
			key, err := v.ValidateKey(e.Name, "", p)
			if err != nil || key != want {
				t.Fatalf("fast: ValidateKey = %q, %v; want %q", key, err, want)
			}
			key, err = v.ReferenceOnly().ValidateKey(e.Name, "", p)
			if err != nil || key != want {
				t.Fatalf("reference: ValidateKey = %q, %v; want %q", key, err, want)
			}
		})
	}
	if _, err := v.ValidateKey("lead.created", "", []byte(`{}`)); err == nil {
		t.Fatal("ValidateKey accepted an invalid payload")
	}
}
