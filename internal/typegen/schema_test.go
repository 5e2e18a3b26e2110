package typegen

import (
	"errors"
	"strings"
	"testing"
)

// TestUnsupported checks that every construct outside the subset fails
// with the event, the version and the JSON pointer of the culprit.
func TestUnsupported(t *testing.T) {
	prop := func(p string) string { return wrap(p, false) }
	root := func(extra string) string {
		return `{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Ev", "type": "object",
			"properties": {"p": {"type": "string"}}` + extra + `}`
	}
	for _, tc := range []struct {
		name, schema, ptr, problem string
	}{
		{"oneOf", prop(`{"type": "string", "oneOf": []}`), "/properties/p/oneOf", `keyword "oneOf" is outside`},
		{"anyOf", prop(`{"type": "string", "anyOf": []}`), "/properties/p/anyOf", "outside"},
		{"allOf", root(`, "allOf": []`), "/allOf", "outside"},
		{"not", prop(`{"type": "string", "not": {}}`), "/properties/p/not", "outside"},
		{"if", prop(`{"type": "string", "if": {}}`), "/properties/p/if", "outside"},
		{"ref", prop(`{"type": "string", "$ref": "#/$defs/x"}`), "/properties/p/$ref", "outside"},
		{"defs", root(`, "$defs": {}`), "/$defs", "outside"},
		{"additionalProperties", root(`, "additionalProperties": false`), "/additionalProperties", "outside"},
		{"patternProperties", root(`, "patternProperties": {}`), "/patternProperties", "outside"},
		{"const", prop(`{"type": "string", "const": "x"}`), "/properties/p/const", "outside"},
		{"exclusiveMaximum", prop(`{"type": "number", "exclusiveMaximum": 1}`), "/properties/p/exclusiveMaximum", "outside"},
		{"multipleOf", prop(`{"type": "number", "multipleOf": 2}`), "/properties/p/multipleOf", "outside"},
		{"uniqueItems", prop(`{"type": "array", "items": {"type": "string"}, "uniqueItems": true}`), "/properties/p/uniqueItems", "outside"},
		{"prefixItems", prop(`{"type": "array", "prefixItems": []}`), "/properties/p/prefixItems", "outside"},
		{"type union", prop(`{"type": ["string", "null"]}`), "/properties/p/type", "one type name"},
		{"type null", prop(`{"type": "null"}`), "/properties/p/type", `type "null" is not supported`},
		{"no type", prop(`{"description": "x"}`), "/properties/p", `"type" is required`},
		{"boolean schema", prop(`true`), "/properties/p", "must be a JSON object"},
		{"format uri", prop(`{"type": "string", "format": "uri"}`), "/properties/p/format", `format "uri"`},
		{"format on integer", prop(`{"type": "integer", "format": "int64"}`), "/properties/p/format", "does not apply"},
		{"integer enum", prop(`{"type": "integer", "enum": [1, 2]}`), "/properties/p/enum", "does not apply"},
		{"non-string enum value", prop(`{"type": "string", "enum": ["a", 2]}`), "/properties/p/enum/1", "must be of JSON type string, not number"},
		{"empty enum", prop(`{"type": "string", "enum": []}`), "/properties/p/enum", "at least one"},
		{"repeated enum value", prop(`{"type": "string", "enum": ["a", "a"]}`), "/properties/p/enum/1", "listed twice"},
		{"enum name clash", prop(`{"type": "string", "enum": ["IN_PROGRESS", "in-progress"]}`), "/properties/p/enum/1", "both become constant EvPInProgress"},
		{"enum value without name", prop(`{"type": "string", "enum": ["ok", "--"]}`), "/properties/p/enum/1", "no letters or digits"},
		{"enum date-time", prop(`{"type": "string", "format": "date-time", "enum": ["2025-01-01T00:00:00Z"]}`), "/properties/p", "cannot be combined"},
		{"array without items", prop(`{"type": "array"}`), "/properties/p", `needs "items"`},
		{"tuple items", prop(`{"type": "array", "items": [{"type": "string"}]}`), "/properties/p/items", "must be a JSON object"},
		{"array of arrays", prop(`{"type": "array", "items": {"type": "array", "items": {"type": "string"}}}`), "/properties/p/items/type", "arrays of arrays"},
		{"free-form object", prop(`{"type": "object"}`), "/properties/p", `non-empty "properties"`},
		{"empty properties", prop(`{"type": "object", "properties": {}}`), "/properties/p", `non-empty "properties"`},
		{"deep keyword", prop(`{"type": "object", "properties": {"q": {"type": "array", "items": {"type": "object", "properties": {"r": {"type": "string", "oneOf": []}}}}}}`),
			"/properties/p/properties/q/items/properties/r/oneOf", "outside"},
		{"required unknown", root(`, "required": ["nope"]`), "/required/0", `"nope" is not in properties`},
		{"required twice", root(`, "required": ["p", "p"]`), "/required/1", "listed twice"},
		{"required not strings", root(`, "required": "p"`), "/required", "must be of JSON type array, not string"},
		{"root not object", `{"title": "Ev", "type": "string"}`, "/type", `must be of type "object"`},
		{"no title", `{"type": "object", "properties": {"p": {"type": "string"}}}`, "", `"title" is required`},
		{"title not Go", `{"title": "lead_created", "type": "object", "properties": {"p": {"type": "string"}}}`, "/title", "not a PascalCase Go name"},
		{"title initialism", `{"title": "CrmThing", "type": "object", "properties": {"p": {"type": "string"}}}`, "/title", `like "CRMThing"`},
		{"nested $id", prop(`{"type": "string", "$id": "x"}`), "/properties/p/$id", "only allowed at the top"},
		{"minLength on integer", prop(`{"type": "integer", "minLength": 1}`), "/properties/p/minLength", "does not apply"},
		{"negative minLength", prop(`{"type": "string", "minLength": -1}`), "/properties/p/minLength", "non-negative integer"},
		{"fractional maxItems", prop(`{"type": "array", "items": {"type": "string"}, "maxItems": 1.5}`), "/properties/p/maxItems", "non-negative integer"},
		{"minimum not number", prop(`{"type": "number", "minimum": "0"}`), "/properties/p/minimum", "must be of JSON type number"},
		{"minItems on string", prop(`{"type": "string", "minItems": 1}`), "/properties/p/minItems", "does not apply"},
		{"description not string", prop(`{"type": "string", "description": 1}`), "/properties/p/description", "must be of JSON type string"},
		{"other tag", prop(`{"type": "string", "confluent:tags": ["PII", "SECRET"]}`), "/properties/p/confluent:tags/1", `tag "SECRET"`},
		{"bad property name", `{"title": "Ev", "type": "object", "properties": {"1st": {"type": "string"}}}`, "/properties/1st", "cannot become a Go field"},
		{"field name clash", `{"title": "Ev", "type": "object", "properties": {"lead_id": {"type": "string"}, "leadId": {"type": "string"}}}`, "/properties/leadId", `"lead_id" and "leadId" both become Go field LeadID`},
		{"method clash", `{"title": "Ev", "type": "object", "properties": {"event_name": {"type": "string"}}}`, "/properties/event_name", "clashes with the payload.Payload method"},
		{"duplicate key", `{"title": "Ev", "type": "object", "properties": {"p": {"type": "string"}, "p": {"type": "integer"}}}`, "/properties/p", `duplicate key "p"`},
		{"pointer escaping", `{"title": "Ev", "type": "object", "properties": {"a/b~c": {"type": "string", "oneOf": []}}}`, "/properties/a~1b~0c/oneOf", "outside"},
		{"not JSON", `{"title": `, "/title", "invalid JSON"},
		{"trailing data", `{"title": "Ev", "type": "object", "properties": {"p": {"type": "string"}}} {}`, "", "data after"},
		{"type name clash", `{"title": "Foo", "type": "object", "properties": {
			"bar": {"type": "object", "properties": {"baz": {"type": "string", "enum": ["A"]}}},
			"bar_baz": {"type": "string", "enum": ["B"]}}}`, "/properties/bar_baz", "Go name x.FooBarBaz is already declared by x.ev at #/properties/bar/properties/baz"},
		{"New clash", `{"title": "New", "type": "object", "properties": {"p": {"type": "string"}}}`, "", "already declared by the generated New function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := generateOne(tc.schema)
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SchemaError", err)
			}
			if se.Event != "x.ev" || se.Version != "1.2.3" || se.Pointer != tc.ptr || !strings.Contains(se.Problem, tc.problem) {
				t.Errorf("got %+v, want pointer %q and a problem containing %q", se, tc.ptr, tc.problem)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "typegen: x.ev v1.2.3 at #"+tc.ptr+": ") {
				t.Errorf("message %q does not name event, version and pointer", msg)
			}
		})
	}
}

// generateOne runs what Generate runs for one event of package x.
func generateOne(schema string) error {
	ge, _, err := generateEvent("x.ev", "1.2.3", []byte(schema))
	if err != nil {
		return err
	}
	return claimNames(map[string]map[string]string{}, "x", ge)
}
