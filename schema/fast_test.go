package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
	"github.com/inopsio/spine/schema"
)

// The fast path (fast.go) may only say "valid" when the reference path
// agrees: fastValid(p) ⇒ reference(p) == nil. These tests run the two side
// by side on the catalog's examples and invalid tables, on systematic
// mutations of every example, and on hand-picked edge cases.

// differ runs payloads through the fast path, the reference path and
// Validate, and checks that they agree.
type differ struct {
	t      *testing.T
	v, ref *schema.Validator
	// validate also compares Validate's result with the reference's, error
	// for error; it costs a second reference run on invalid payloads.
	validate bool
	// valid counts the payloads the reference accepts; accepted, those of
	// them the fast path accepts too.
	valid, accepted int
}

func newDiffer(t *testing.T) *differ {
	v := newValidator(t)
	return &differ{t: t, v: v, ref: v.ReferenceOnly()}
}

// check returns the fast path's and the reference's verdicts.
func (d *differ) check(event, version string, payload []byte) (fast bool, refErr error) {
	d.t.Helper()
	orig := bytes.Clone(payload)
	_, fast = d.v.FastValid(event, version, payload)
	if !bytes.Equal(payload, orig) {
		d.t.Fatalf("%s: the fast path modified the payload %q", event, clip(orig))
	}
	refErr = d.ref.Validate(event, version, payload)
	if fast && refErr != nil {
		d.t.Errorf("%s %s: fast path accepted %q; the reference says %v", event, version, clip(payload), refErr)
	}
	if d.validate {
		if got := d.v.Validate(event, version, payload); !reflect.DeepEqual(got, refErr) {
			d.t.Errorf("%s %s: Validate(%q) = %v; the reference says %v", event, version, clip(payload), got, refErr)
		}
	}
	if refErr == nil {
		d.valid++
		if fast {
			d.accepted++
		}
	}
	return fast, refErr
}

func clip(p []byte) string {
	if len(p) > 200 {
		return string(p[:200]) + "…"
	}
	return string(p)
}

func examplePath(event string) string {
	return filepath.Join("..", "catalog", "testdata", "examples", event+".json")
}

// Every event of the catalog: its example must take the fast path; its
// invalid cases, mutations of the example (one value replaced or removed at
// a time, at any depth) and byte-level damage must never be accepted by the
// fast path alone.
func TestFastPathCatalog(t *testing.T) {
	d := newDiffer(t)
	for _, e := range catalog.MustDefault().Events() {
		t.Run(e.Name, func(t *testing.T) {
			d.t = t
			example := mustRead(t, examplePath(e.Name))
			compiled, fast := d.v.FastValid(e.Name, "", example)
			if !compiled {
				t.Fatal("the current schema has no fast path")
			}
			if _, refErr := d.check(e.Name, "", example); !fast || refErr != nil {
				t.Fatalf("example: fast path %v, reference %v; want both to accept it", fast, refErr)
			}
			for _, sv := range e.Versions { // older versions too, where the example may or may not fit
				if compiled, _ := d.v.FastValid(e.Name, sv.Version, example); !compiled {
					t.Errorf("version %s has no fast path", sv.Version)
				}
				d.check(e.Name, sv.Version, example)
			}

			var cases []invalidCase
			if err := json.Unmarshal(mustRead(t, filepath.Join("..", "catalog", "testdata", "invalid", e.Name+".json")), &cases); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				if fast, _ := d.check(e.Name, "", c.Payload); fast {
					t.Errorf("invalid case %q: accepted by the fast path", c.Name)
				}
			}

			var doc any
			dec := json.NewDecoder(bytes.NewReader(example))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			for _, m := range mutations(doc) {
				p, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				d.check(e.Name, "", p)
			}
			for _, p := range damaged(example) {
				d.check(e.Name, "", p)
			}
		})
	}
	d.t = t
	t.Logf("the fast path accepted %d of the %d payloads the reference accepts", d.accepted, d.valid)
}

// replacements stand in for one value of an example at a time.
var replacements = func() []any {
	raw := []string{
		`null`, `true`, `false`, `{}`, `[]`, `[{}]`, `""`, `"x"`,
		`0`, `-0`, `-0.0`, `1`, `-1`, `1.0`, `1.5`, `1e2`, `1E+2`, `0.1`, `1e-400`, `1e400`, `-1e400`,
		`1e12`, `1000000000000`, `1000000000001`, `1000000000000.0000001`, `2.0000000000000001`,
		`123456789012345`, `9007199254740993`, `1e300`,
		`"7C9E6679-7425-40DE-944B-E07FC1F90AE7"`, `"7c9e6679742540de944be07fc1f90ae7"`, `"{7c9e6679-7425-40de-944b-e07fc1f90ae7}"`,
		`"2025-10-24T14:00:00+02:00"`, `"2025-10-24t14:00:00.5z"`, `"2016-12-31T23:59:60Z"`, `"2025-02-29T00:00:00Z"`, `"2025-10-24"`, `"2025-10-24 14:00:00Z"`,
		`"a@example.com"`, `"\"a b\"@example.com"`, `"a@[127.0.0.1]"`, `"@example.com"`, `"ä@example.com"`,
		`"\u00e9\u0000\ud83d\ude00"`, `"USD"`, `"INV-2025-004"`, `"PENDING"`,
		`{"__proto__": {"polluted": true}, "constructor": [1, {"prototype": null}]}`,
	}
	out := make([]any, 0, len(raw)+4)
	for _, r := range raw {
		out = append(out, json.RawMessage(r))
	}
	for _, n := range []int{64, 65, 256, 257} {
		out = append(out, strings.Repeat("é", n))
	}
	return out
}()

// mutations returns copies of a decoded example, each with one change at
// any depth: a value replaced, a member removed or a member added, an array
// emptied or doubled.
func mutations(v any) []any {
	var out []any
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			m := maps.Clone(v)
			delete(m, k)
			out = append(out, m)
			for _, r := range append(mutations(x), replacements...) {
				m := maps.Clone(v)
				m[k] = r
				out = append(out, m)
			}
		}
		m := maps.Clone(v)
		m["__proto__"] = json.RawMessage(deep(300))
		out = append(out, m)
	case []any:
		for i, x := range v {
			for _, r := range append(mutations(x), replacements...) {
				s := slices.Clone(v)
				s[i] = r
				out = append(out, s)
			}
		}
		out = append(out, []any{}, append(slices.Clone(v), v...))
	}
	return out
}

// deep returns an unknown value nested n levels deep.
func deep(n int) string {
	return strings.Repeat(`{"a":[`, n) + `"x"` + strings.Repeat(`]}`, n)
}

// damaged returns byte-level variants of a payload: every truncation,
// trailing data, duplicate and escaped names, invalid UTF-8.
func damaged(p []byte) [][]byte {
	p = bytes.TrimSpace(p)
	var out [][]byte
	for i := range p {
		out = append(out, p[:i])
	}
	s := string(p)
	tid := `"tenant_id"`
	for _, x := range []string{
		s + `{}`, s + ` x`, s + "\n\t ", "\ufeff" + s, " \r\n" + s,
		strings.Replace(s, tid, `"\u0074enant_id"`, 1),
		strings.Replace(s, tid, `"tenant_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "tenant_id"`, 1),
		strings.Replace(s, tid, `"tenant\u005fid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "tenant_id"`, 1),
		strings.Replace(s, tid, `"x": {"y": 1, "y": 2}, "tenant_id"`, 1),
		strings.Replace(s, tid, "\"x\": [\"\xff\"], \"tenant_id\"", 1),
		strings.Replace(s, tid, "\"\xc3\": 1, \"tenant_id\"", 1),
		strings.Replace(s, tid, `"x": [1,], "tenant_id"`, 1),
		strings.Replace(s, tid, `"x": `+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`, "tenant_id"`, 1),
		`[` + s + `]`, `null`, `"x"`, `1`, `{}`,
	} {
		out = append(out, []byte(x))
	}
	return out
}

// Hand-picked edge cases, with both verdicts spelled out: ref is the
// reference's (JSON Schema 2020-12 with format assertion), fast the fast
// path's, which is false where it leaves a valid payload to the reference.
func TestFastPathEdgeCases(t *testing.T) {
	lead := mustRead(t, "testdata/spec/lead.created.json")
	invoice := mustRead(t, "testdata/spec/invoice.generated.json")
	order := mustRead(t, examplePath("order.received"))
	item := `{"description":"x","quantity":1,"unit_price":1}`
	tests := []struct {
		name, event string
		payload     []byte
		ref, fast   bool
	}{
		// Strings count code points.
		{"name of 256 two-byte runes", "lead.created", set(t, lead, "name", `"`+strings.Repeat("é", 256)+`"`), true, true},
		{"name of 257 two-byte runes", "lead.created", set(t, lead, "name", `"`+strings.Repeat("é", 257)+`"`), false, false},
		{"name of 256 four-byte runes", "lead.created", set(t, lead, "name", `"`+strings.Repeat("😀", 256)+`"`), true, true},
		{"name of 257 four-byte runes", "lead.created", set(t, lead, "name", `"`+strings.Repeat("😀", 257)+`"`), false, false},
		{"name of 256 escaped runes", "lead.created", set(t, lead, "name", `"`+strings.Repeat(`\ud83d\ude00`, 256)+`"`), true, true},
		{"name of 257 bytes", "lead.created", set(t, lead, "name", `"`+strings.Repeat("x", 257)+`"`), false, false},
		{"empty name", "lead.created", set(t, lead, "name", `""`), false, false},
		{"name a NUL", "lead.created", set(t, lead, "name", `"\u0000"`), true, true},
		{"name a lone surrogate", "lead.created", set(t, lead, "name", `"\ud83d"`), false, false},
		{"name null", "lead.created", set(t, lead, "name", `null`), false, false},
		// uuid: the reference accepts either case, nothing else.
		{"upper-case uuid", "lead.created", set(t, lead, "lead_id", `"3F0E2D5C-9A8B-4C7D-8E6F-5A4B3C2D1E0F"`), true, true},
		{"escaped uuid", "lead.created", set(t, lead, "lead_id", `"\u0033f0e2d5c-9a8b-4c7d-8e6f-5a4b3c2d1e0f"`), true, true},
		{"uuid in braces", "lead.created", set(t, lead, "lead_id", `"{3f0e2d5c-9a8b-4c7d-8e6f-5a4b3c2d1e0f}"`), false, false},
		{"uuid without dashes", "lead.created", set(t, lead, "lead_id", `"3f0e2d5c9a8b4c7d8e6f5a4b3c2d1e0f"`), false, false},
		{"uuid with a g", "lead.created", set(t, lead, "lead_id", `"3f0e2d5c-9a8b-4c7d-8e6f-5a4b3c2d1e0g"`), false, false},
		// email: the fast path takes dot-atom@hostname only.
		{"email with plus and quote", "lead.created", set(t, lead, "email", `"o'brien+tag@example.co.uk"`), true, true},
		{"email on a bare host", "lead.created", set(t, lead, "email", `"john@localhost"`), true, true},
		{"email local part of 64", "lead.created", set(t, lead, "email", `"`+strings.Repeat("a", 64)+`@example.com"`), true, true},
		{"email local part of 65", "lead.created", set(t, lead, "email", `"`+strings.Repeat("a", 65)+`@example.com"`), false, false},
		{"email quoted local part", "lead.created", set(t, lead, "email", `"\"john doe\"@example.com"`), true, false},
		{"email IPv4 literal", "lead.created", set(t, lead, "email", `"john@[192.168.0.1]"`), true, false},
		{"email IPv6 literal", "lead.created", set(t, lead, "email", `"john@[IPv6:2001:db8::1]"`), true, false},
		{"email empty local part", "lead.created", set(t, lead, "email", `"@example.com"`), false, false},
		{"email trailing dot", "lead.created", set(t, lead, "email", `"john@example.com."`), false, false},
		{"email unicode local part", "lead.created", set(t, lead, "email", `"jöhn@example.com"`), false, false},
		{"email unicode domain", "lead.created", set(t, lead, "email", `"john@exämple.com"`), false, false},
		{"email double dot", "lead.created", set(t, lead, "email", `"john..doe@example.com"`), false, false},
		{"email dot before @", "lead.created", set(t, lead, "email", `"john.@example.com"`), false, false},
		{"email hyphen label", "lead.created", set(t, lead, "email", `"john@-example.com"`), false, false},
		{"email empty label", "lead.created", set(t, lead, "email", `"john@example..com"`), false, false},
		{"email two @", "lead.created", set(t, lead, "email", `"john@a@example.com"`), false, false},
		// date-time: RFC 3339; leap seconds are left to the reference.
		{"date-time with offset", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00+02:00"`), true, true},
		{"date-time with -23:59", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00-23:59"`), true, true},
		{"date-time lower case", "lead.created", set(t, lead, "created_at", `"2025-10-24t14:00:00z"`), true, true},
		{"date-time nanoseconds", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00.123456789Z"`), true, true},
		{"date-time 29 Feb 2024", "lead.created", set(t, lead, "created_at", `"2024-02-29T00:00:00Z"`), true, true},
		{"date-time 29 Feb 2000", "lead.created", set(t, lead, "created_at", `"2000-02-29T00:00:00Z"`), true, true},
		{"date-time 29 Feb 2025", "lead.created", set(t, lead, "created_at", `"2025-02-29T00:00:00Z"`), false, false},
		{"date-time 29 Feb 1900", "lead.created", set(t, lead, "created_at", `"1900-02-29T00:00:00Z"`), false, false},
		{"date-time 31 Nov", "lead.created", set(t, lead, "created_at", `"2025-11-31T00:00:00Z"`), false, false},
		{"date-time leap second", "lead.created", set(t, lead, "created_at", `"2016-12-31T23:59:60Z"`), true, false},
		{"date-time leap second west", "lead.created", set(t, lead, "created_at", `"2016-12-31T22:59:60-01:00"`), true, false},
		{"date-time bad leap second", "lead.created", set(t, lead, "created_at", `"2016-12-31T23:59:60+01:00"`), false, false},
		{"date-time empty fraction", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00.Z"`), false, false},
		{"date-time space", "lead.created", set(t, lead, "created_at", `"2025-10-24 14:00:00Z"`), false, false},
		{"date-time hour 24", "lead.created", set(t, lead, "created_at", `"2025-10-24T24:00:00Z"`), false, false},
		{"date-time no offset", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00"`), false, false},
		{"date-time short offset", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00+2:00"`), false, false},
		{"date-time offset 24:00", "lead.created", set(t, lead, "created_at", `"2025-10-24T14:00:00+24:00"`), false, false},
		{"date-time signed hour", "lead.created", set(t, lead, "created_at", `"2025-10-24T+1:00:00Z"`), false, false},
		{"date only", "lead.created", set(t, lead, "created_at", `"2025-10-24"`), false, false},
		// Names: escapes, duplicates, open content.
		{"escaped name", "lead.created", bytes.Replace(lead, []byte(`"lead_id"`), []byte(`"\u006cead_id"`), 1), true, true},
		{"duplicate name", "lead.created", bytes.Replace(lead, []byte(`"email"`), []byte(`"email": "x@example.com", "email"`), 1), false, false},
		{"duplicate via escape", "lead.created", bytes.Replace(lead, []byte(`"email"`), []byte(`"email": "x@example.com", "\u0065mail"`), 1), false, false},
		{"__proto__", "lead.created", set(t, lead, "__proto__", `{"isAdmin": true}`), true, true},
		{"deep unknown", "lead.created", set(t, lead, "x", deep(2000)), true, true},
		{"too deep unknown", "lead.created", set(t, lead, "x", deep(5000)), false, false},
		{"unknown with a duplicate", "lead.created", set(t, lead, "x", `[{"a":1,"a":1}]`), false, false},
		{"missing required", "lead.created", set(t, lead, "email", ""), false, false},
		{"missing optional", "lead.created", set(t, lead, "assigned_to", ""), true, true},
		{"trailing object", "lead.created", append(slices.Clone(lead), `{}`...), false, false},
		{"byte order mark", "lead.created", append([]byte("\ufeff"), lead...), false, false},
		// Numbers: the reference compares the float64 the decoder makes.
		{"amount integer", "invoice.generated", set(t, invoice, "amount", `3500`), true, true},
		{"amount -0", "invoice.generated", set(t, invoice, "amount", `-0.0`), true, true},
		{"amount negative", "invoice.generated", set(t, invoice, "amount", `-0.01`), false, false},
		{"amount at maximum", "invoice.generated", set(t, invoice, "amount", `1e12`), true, true},
		{"amount over maximum", "invoice.generated", set(t, invoice, "amount", `1000000000001`), false, false},
		{"amount rounds to maximum", "invoice.generated", set(t, invoice, "amount", `1000000000000.0000001`), true, false},
		{"amount long fraction", "invoice.generated", set(t, invoice, "amount", `3500.123456789012345`), true, false},
		{"amount underflows to 0", "invoice.generated", set(t, invoice, "amount", `1e-400`), true, true},
		{"amount overflows", "invoice.generated", set(t, invoice, "amount", `1e400`), false, false},
		{"amount a string", "invoice.generated", set(t, invoice, "amount", `"3500"`), false, false},
		{"quantity exclusive minimum", "invoice.generated", set(t, invoice, "line_items", `[{"description":"x","quantity":0,"unit_price":1}]`), false, false},
		{"quantity tiny", "invoice.generated", set(t, invoice, "line_items", `[{"description":"x","quantity":1e-300,"unit_price":1}]`), true, true},
		{"500 line items", "invoice.generated", set(t, invoice, "line_items", "["+strings.Repeat(item+",", 499)+item+"]"), true, true},
		{"501 line items", "invoice.generated", set(t, invoice, "line_items", "["+strings.Repeat(item+",", 500)+item+"]"), false, false},
		{"line item without price", "invoice.generated", set(t, invoice, "line_items", `[{"description":"x","quantity":1}]`), false, false},
		{"line item extra field", "invoice.generated", set(t, invoice, "line_items", `[{"description":"x","quantity":1,"unit_price":1,"vat":0.19}]`), true, true},
		{"integer 1.0", "order.received", set(t, order, "items", `[{"sku":"A","quantity":1.0,"unit_price":1}]`), true, true},
		{"integer 1e2", "order.received", set(t, order, "items", `[{"sku":"A","quantity":1e2,"unit_price":1}]`), true, true},
		{"integer 1.5", "order.received", set(t, order, "items", `[{"sku":"A","quantity":1.5,"unit_price":1}]`), false, false},
		{"integer rounding to 2", "order.received", set(t, order, "items", `[{"sku":"A","quantity":2.0000000000000001,"unit_price":1}]`), true, false},
		{"no items", "order.received", set(t, order, "items", `[]`), false, false},
		// Patterns are unanchored Go regexps; $ is the end of the text.
		{"currency with a newline", "invoice.generated", set(t, invoice, "currency", `"USD\n"`), false, false},
		{"currency lower case", "invoice.generated", set(t, invoice, "currency", `"usd"`), false, false},
		{"status escaped", "invoice.generated", set(t, invoice, "status", `"\u0050AID"`), true, true},
		{"status lower case", "invoice.generated", set(t, invoice, "status", `"paid"`), false, false},
		{"invoice_id of 32", "invoice.generated", set(t, invoice, "invoice_id", `"INV-2025-`+strings.Repeat("0", 23)+`"`), true, true},
		{"invoice_id of 33", "invoice.generated", set(t, invoice, "invoice_id", `"INV-2025-`+strings.Repeat("0", 24)+`"`), false, false},
		{"due date", "invoice.generated", set(t, invoice, "due_date", `"2025-11-30"`), true, true},
		{"due date 31 Nov", "invoice.generated", set(t, invoice, "due_date", `"2025-11-31"`), false, false},
		{"due date year 0", "invoice.generated", set(t, invoice, "due_date", `"0000-01-01"`), true, false},
		{"due date with time", "invoice.generated", set(t, invoice, "due_date", `"2025-11-30T00:00:00Z"`), false, false},
	}
	d := newDiffer(t)
	d.validate = true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.t = t
			fast, refErr := d.check(tt.event, "", tt.payload)
			if (refErr == nil) != tt.ref {
				t.Errorf("reference: %v, want valid = %v", refErr, tt.ref)
			}
			if fast != tt.fast {
				t.Errorf("fast path accepted = %v, want %v", fast, tt.fast)
			}
		})
	}
}

// set returns payload with the top-level member name set to the raw JSON
// value raw, or removed if raw is empty.
func set(t *testing.T, payload []byte, name, raw string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	if raw == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(raw)
	}
	// Marshal would validate and rewrite raw values (lone surrogates, deep
	// nesting): splice them in by hand.
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", k, m[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// A schema outside the subset gets no fast path, and the reference path
// still validates against it.
func TestFastPathOutsideSubset(t *testing.T) {
	const head = `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", `
	tests := []struct {
		name, schema string
		fast         bool
	}{
		{"the subset", head + `"required": ["a"], "properties": {"a": {"type": "string", "format": "uuid"},
			"b": {"type": "array", "items": {"type": "integer", "minimum": -5}}}}`, true},
		{"no $schema", `{"type": "object", "properties": {"a": {"type": "boolean"}}}`, true},
		{"oneOf", head + `"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}`, false},
		{"$ref", head + `"properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"type": "string"}}}`, false},
		{"closed object", head + `"additionalProperties": false}`, false},
		{"type list", head + `"properties": {"a": {"type": ["string", "null"]}}}`, false},
		{"null type", head + `"properties": {"a": {"type": "null"}}}`, false},
		{"no type", head + `"properties": {"a": {"description": "anything"}}}`, false},
		{"const", head + `"properties": {"a": {"type": "string", "const": "x"}}}`, false},
		{"numeric enum", head + `"properties": {"a": {"type": "integer", "enum": [1, 2]}}}`, false},
		{"unknown format", head + `"properties": {"a": {"type": "string", "format": "ipv4"}}}`, false},
		{"inexact bound", head + `"properties": {"a": {"type": "number", "maximum": 0.1}}}`, false},
		{"long bound", head + `"properties": {"a": {"type": "number", "maximum": 9007199254740993}}}`, false},
		{"fractional maxLength", head + `"properties": {"a": {"type": "string", "maxLength": 2.0}}}`, false},
		{"string keyword on a number", head + `"properties": {"a": {"type": "number", "maxLength": 2}}}`, false},
		{"boolean property schema", head + `"properties": {"a": true}}`, false},
		{"tuple items", head + `"properties": {"a": {"type": "array", "prefixItems": [{"type": "string"}]}}}`, false},
		{"draft 7", `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}`, false},
		{"nested $id", head + `"properties": {"a": {"$id": "x", "type": "string"}}}`, false},
		{"unknown keyword", head + `"properties": {"a": {"type": "string", "x-nullable": true}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.CompileFast([]byte(tt.schema)) != nil; got != tt.fast {
				t.Errorf("fast path compiled = %v, want %v", got, tt.fast)
			}
		})
	}

	// A catalog whose lead.created uses oneOf.
	const yaml = catalogtest.Header + catalogtest.MinimalEvents
	const plain = head + `"required": ["tenant_id"], "properties": {"tenant_id": {"type": "string", "format": "uuid"}}}`
	const oneOf = head + `"required": ["tenant_id"], "properties": {"tenant_id": {"type": "string", "format": "uuid"}},
		"oneOf": [{"required": ["email"]}, {"required": ["phone"]}]}`
	cat, err := catalog.Load(fstest.MapFS{
		"catalog.yaml":                             {Data: []byte(yaml)},
		"schemas/lead.created/v1.0.0.json":         {Data: []byte(oneOf)},
		"schemas/crm.pipeline.refresh/v1.0.0.json": {Data: []byte(plain)},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.NewValidator(cat)
	if err != nil {
		t.Fatal(err)
	}
	const tid = `"tenant_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"`
	if compiled, _ := v.FastValid("lead.created", "", []byte(`{`+tid+`}`)); compiled {
		t.Error("lead.created (oneOf) has a fast path")
	}
	if compiled, ok := v.FastValid("crm.pipeline.refresh", "", []byte(`{`+tid+`}`)); !compiled || !ok {
		t.Errorf("crm.pipeline.refresh: fast path compiled %v, accepted %v; want both", compiled, ok)
	}
	if err := v.Validate("lead.created", "", []byte(`{`+tid+`, "email": "a@example.com"}`)); err != nil {
		t.Errorf("one of email, phone: %v", err)
	}
	for _, p := range []string{`{` + tid + `}`, `{` + tid + `, "email": "a@example.com", "phone": "+491"}`} {
		violations(t, v.Validate("lead.created", "", []byte(p)))
	}
}

// The fast path's pooled decoders are shared between goroutines: run it
// concurrently (go test -race) and compare with a sequential run.
func TestFastPathConcurrent(t *testing.T) {
	d := newDiffer(t)
	type job struct {
		event   string
		payload []byte
		want    error
	}
	var jobs []job
	for _, e := range catalog.MustDefault().Events() {
		var cases []invalidCase
		if err := json.Unmarshal(mustRead(t, filepath.Join("..", "catalog", "testdata", "invalid", e.Name+".json")), &cases); err != nil {
			t.Fatal(err)
		}
		payloads := [][]byte{mustRead(t, examplePath(e.Name))}
		for _, c := range cases {
			payloads = append(payloads, c.Payload)
		}
		for _, p := range payloads {
			jobs = append(jobs, job{e.Name, p, d.ref.Validate(e.Name, "", p)})
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 * len(jobs) {
				j := jobs[(i+g*7)%len(jobs)]
				if got := d.v.Validate(j.event, "", j.payload); !reflect.DeepEqual(got, j.want) {
					t.Errorf("%s: %q: got %v, want %v", j.event, clip(j.payload), got, j.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzFastPath(f *testing.F) {
	v := newValidator(f)
	ref := v.ReferenceOnly()
	events := []string{"lead.created", "invoice.generated", "order.received", "customer.synced"}
	for i, e := range events {
		f.Add(uint8(i), mustRead(f, examplePath(e)))
	}
	f.Add(uint8(0), mustRead(f, "testdata/spec/lead.created.json"))
	f.Add(uint8(1), mustRead(f, "testdata/spec/invoice.generated.json"))
	f.Add(uint8(0), []byte(`{"lead_id":"3F0E2D5C-9A8B-4C7D-8E6F-5A4B3C2D1E0F","tenant_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"\u00e9\ud83d\ude00","email":"o'brien+x@a.example.co","source":"\u0000","created_at":"2016-12-31T22:59:59.5-01:00","__proto__":{"a":[1,{"b":null}]}}`))
	f.Add(uint8(1), []byte(`{"invoice_id":"INV-2025-004","tenant_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","amount":-0.0,"currency":"USD","status":"\u0050AID","issued_by":"u","issued_at":"2025-10-24T12:00:00Z","line_items":[{"description":"x","quantity":1e-300,"unit_price":1e12}],"due_date":"2024-02-29"}`))
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		event := events[int(which)%len(events)]
		compiled, fast := v.FastValid(event, "", payload)
		if !compiled {
			t.Fatalf("%s has no fast path", event)
		}
		refErr := ref.Validate(event, "", payload)
		if fast && refErr != nil {
			t.Fatalf("%s: fast path accepted %q; the reference says %v", event, payload, refErr)
		}
		if got := v.Validate(event, "", payload); !reflect.DeepEqual(got, refErr) {
			t.Fatalf("%s: Validate(%q) = %v; the reference says %v", event, payload, got, refErr)
		}
	})
}
