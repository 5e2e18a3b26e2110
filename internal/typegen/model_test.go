package typegen

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// wrap makes a payload schema with one property p, required or not.
func wrap(p string, required bool) string {
	req := ""
	if required {
		req = `, "required": ["p"]`
	}
	return fmt.Sprintf(`{"$schema": "https://json-schema.org/draft/2020-12/schema",
		"title": "Ev", "type": "object"%s, "properties": {"p": %s}}`, req, p)
}

func build(t *testing.T, schema string) (*goEvent, bool) {
	t.Helper()
	ge, needTime, err := generateEvent("x.ev", "1.2.3", []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	return ge, needTime
}

func TestTypeMapping(t *testing.T) {
	for _, tc := range []struct {
		prop     string
		required bool
		typ, tag string
		time     bool
	}{
		{`{"type": "string"}`, true, "string", `json:"p"`, false},
		{`{"type": "string"}`, false, "*string", `json:"p,omitempty"`, false},
		{`{"type": "string", "format": "uuid", "description": "d"}`, true, "string", `json:"p"`, false},
		{`{"type": "string", "format": "email", "maxLength": 320}`, false, "*string", `json:"p,omitempty"`, false},
		{`{"type": "string", "format": "date"}`, true, "string", `json:"p"`, false},
		{`{"type": "string", "format": "date-time"}`, true, "time.Time", `json:"p"`, true},
		{`{"type": "string", "format": "date-time"}`, false, "*time.Time", `json:"p,omitempty"`, true},
		{`{"type": "integer", "minimum": 0}`, true, "int64", `json:"p"`, false},
		{`{"type": "integer"}`, false, "*int64", `json:"p,omitempty"`, false},
		{`{"type": "number", "exclusiveMinimum": 0, "maximum": 10}`, true, "float64", `json:"p"`, false},
		{`{"type": "number"}`, false, "*float64", `json:"p,omitempty"`, false},
		{`{"type": "boolean", "default": false}`, true, "bool", `json:"p"`, false},
		{`{"type": "boolean"}`, false, "*bool", `json:"p,omitempty"`, false},
		{`{"type": "array", "items": {"type": "string"}, "maxItems": 3}`, true, "[]string", `json:"p"`, false},
		{`{"type": "array", "items": {"type": "string"}}`, false, "[]string", `json:"p,omitempty"`, false},
		{`{"type": "array", "items": {"type": "string", "format": "date-time"}}`, true, "[]time.Time", `json:"p"`, true},
		{`{"type": "array", "items": {"type": "integer"}}`, true, "[]int64", `json:"p"`, false},
		{`{"type": "array", "items": {"type": "string", "enum": ["A"]}}`, true, "[]EvPItem", `json:"p"`, false},
		{`{"type": "string", "enum": ["A"]}`, true, "EvP", `json:"p"`, false},
		{`{"type": "string", "enum": ["A"]}`, false, "*EvP", `json:"p,omitempty"`, false},
		{`{"type": "object", "properties": {"q": {"type": "string"}}}`, true, "EvP", `json:"p"`, false},
		{`{"type": "object", "properties": {"q": {"type": "string"}}}`, false, "*EvP", `json:"p,omitempty"`, false},
		{`{"type": "array", "items": {"type": "object", "properties": {"q": {"type": "string"}}}}`, false, "[]EvPItem", `json:"p,omitempty"`, false},
	} {
		ge, needTime := build(t, wrap(tc.prop, tc.required))
		f := ge.Decls[0].Fields[0]
		if f.Name != "P" || f.Type != tc.typ || f.Tag != "`"+tc.tag+"`" || needTime != tc.time {
			t.Errorf("%s (required %v): got %s %s %s time=%v, want P %s `%s` time=%v",
				tc.prop, tc.required, f.Name, f.Type, f.Tag, needTime, tc.typ, tc.tag, tc.time)
		}
	}
}

// TestNestedAndOrder checks declaration names and order, field order (the
// schema's, not required-first), docs and PII notes.
func TestNestedAndOrder(t *testing.T) {
	ge, _ := build(t, `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id": "https://example.com/x.json",
		"title": "CustomerSynced", "description": "A customer was synced.",
		"type": "object", "required": ["zeta", "contact"],
		"properties": {
			"zeta": {"type": "string"},
			"alpha": {"type": "string", "description": "First letter.", "confluent:tags": ["PII"]},
			"contact": {"type": "object", "description": "Who to call.",
				"required": ["email"],
				"properties": {
					"email": {"type": "string", "format": "email", "confluent:tags": ["PII"]},
					"kind": {"type": "string", "enum": ["HOME", "WORK"]},
					"phones": {"type": "array", "items": {"type": "object",
						"properties": {"number": {"type": "string"}}}}
				}},
			"status": {"type": "string", "enum": ["IN_PROGRESS", "done"]}
		}}`)
	var names []string
	for _, d := range ge.Decls {
		names = append(names, d.Name)
	}
	wantNames := []string{"CustomerSynced", "CustomerSyncedContact", "CustomerSyncedContactKind",
		"CustomerSyncedContactPhone", "CustomerSyncedStatus"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("declarations %q, want %q", names, wantNames)
	}
	root := ge.Decls[0]
	var fields []string
	for _, f := range root.Fields {
		fields = append(fields, f.Name+" "+f.Type)
	}
	wantFields := []string{"Zeta string", "Alpha *string", "Contact CustomerSyncedContact", "Status *CustomerSyncedStatus"}
	if !slices.Equal(fields, wantFields) {
		t.Errorf("fields %q, want %q", fields, wantFields)
	}
	if !root.IsRoot || ge.Type != "CustomerSynced" || ge.Version != "1.2.3" {
		t.Errorf("root %+v", ge)
	}
	if doc := strings.Join(root.Fields[1].Doc, "\n"); doc != "// First letter. PII: tagged so in the schema (confluent:tags)." {
		t.Errorf("PII field doc %q", doc)
	}
	if doc := strings.Join(ge.Decls[1].Fields[0].Doc, "\n"); doc != "// PII: tagged so in the schema (confluent:tags)." {
		t.Errorf("nested PII field doc %q", doc)
	}
	if doc := strings.Join(ge.Decls[3].Doc, " "); !strings.Contains(doc, "contact.phones[] in x.ev") {
		t.Errorf("array element doc %q", doc)
	}
	status := ge.Decls[4]
	wantConsts := []goConst{{"CustomerSyncedStatusInProgress", `"IN_PROGRESS"`}, {"CustomerSyncedStatusDone", `"done"`}}
	if !slices.Equal(status.Consts, wantConsts) {
		t.Errorf("constants %v, want %v", status.Consts, wantConsts)
	}
}
