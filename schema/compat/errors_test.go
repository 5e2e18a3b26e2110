package compat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDiffErrors(t *testing.T) {
	deep := strings.Repeat(`{"items":`, maxDepth+1) + "true" + strings.Repeat("}", maxDepth+1)
	tests := []struct {
		name           string
		oldDoc, newDoc string
		cause          error
		doc            string
		pointer        string
		line, col      int
		detail         string // substring of the message
	}{
		{name: "empty document", oldDoc: "", newDoc: "{}", cause: ErrMalformedJSON, doc: "old", line: 1, col: 1, detail: "empty"},
		{name: "syntax error located", oldDoc: "{}", newDoc: "{\n  \"type\": \"string\",\n  }", cause: ErrMalformedJSON, doc: "new", line: 3, col: 3, detail: "invalid character"},
		{name: "truncated", oldDoc: `{"type": "string"`, newDoc: "{}", cause: ErrMalformedJSON, doc: "old", line: 1, detail: "unexpected EOF"},
		{name: "trailing data", oldDoc: `{} {}`, newDoc: "{}", cause: ErrMalformedJSON, doc: "old", line: 1, col: 4, detail: "after the top-level value"},
		{name: "top level array", oldDoc: `[]`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "", detail: "not an array"},
		{name: "schema of wrong JSON type", oldDoc: `{}`, newDoc: `{"properties": {"a": 5}}`, cause: ErrNotSchema, doc: "new", pointer: "/properties/a", detail: "object or a boolean"},
		{name: "unknown type name", oldDoc: `{"type": "text"}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/type", detail: `unknown type "text"`},
		{name: "negative maxLength", oldDoc: `{"maxLength": -1}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/maxLength", detail: "non-negative integer"},
		{name: "zero multipleOf", oldDoc: `{"multipleOf": 0}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/multipleOf", detail: "greater than 0"},
		{name: "required not strings", oldDoc: `{"required": [1]}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/required"},
		{name: "empty anyOf", oldDoc: `{"anyOf": []}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/anyOf"},
		{name: "dangling $ref", oldDoc: `{"$ref": "#/$defs/missing"}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", pointer: "/$ref", detail: "points to nothing"},
		{name: "$ref cycle without a schema", oldDoc: `{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}`, newDoc: "{}", cause: ErrNotSchema, doc: "old", detail: "cycle"},
		{name: "self $ref", oldDoc: "{}", newDoc: `{"$ref": "#"}`, cause: ErrNotSchema, doc: "new", pointer: "", detail: "cycle"},
		{name: "remote $ref", oldDoc: `{"$ref": "https://example.com/s.json"}`, newDoc: "{}", cause: ErrUnsupported, doc: "old", pointer: "/$ref", detail: "same document"},
		{name: "anchor $ref", oldDoc: `{"$ref": "#node"}`, newDoc: "{}", cause: ErrUnsupported, doc: "old", pointer: "/$ref"},
		{name: "regex Go cannot compile", oldDoc: `{"patternProperties": {"(?=x)": {}}}`, newDoc: "{}", cause: ErrUnsupported, doc: "old", pointer: "/patternProperties/(?=x)"},
		{name: "huge exponent", oldDoc: `{"maximum": 1e999999999}`, newDoc: "{}", cause: ErrUnsupported, doc: "old", pointer: "/maximum", detail: "range"},
		{name: "nesting too deep", oldDoc: deep, newDoc: "{}", cause: ErrTooDeep, doc: "old", pointer: strings.Repeat("/items", maxDepth), detail: "nest more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Diff([]byte(tt.oldDoc), []byte(tt.newDoc))
			if !errors.Is(err, tt.cause) {
				t.Fatalf("err = %v, want %v", err, tt.cause)
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T, want *SchemaError", err)
			}
			if se.Document != tt.doc {
				t.Errorf("Document = %q, want %q", se.Document, tt.doc)
			}
			if tt.line > 0 {
				if se.Line != tt.line || (tt.col > 0 && se.Column != tt.col) {
					t.Errorf("at line %d, column %d, want %d, %d", se.Line, se.Column, tt.line, tt.col)
				}
			} else if tt.detail != "cycle" && se.Pointer != tt.pointer {
				t.Errorf("Pointer = %q, want %q", se.Pointer, tt.pointer)
			}
			if !strings.Contains(err.Error(), tt.detail) || !strings.HasPrefix(err.Error(), "compat: "+tt.doc+": ") {
				t.Errorf("message %q lacks %q or the document name", err, tt.detail)
			}
		})
	}
}

// Each level refers to the next twice, so the 40 levels expand to 2^40
// locations: the comparison must stop, not exhaust memory.
func TestDiffExpansionIsBounded(t *testing.T) {
	defs := func(leaf string) string {
		var b strings.Builder
		b.WriteString(`{"$defs": {`)
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&b, `"d%d": {"type": "object", "properties": {"l": {"$ref": "#/$defs/d%d"}, "r": {"$ref": "#/$defs/d%d"}}},`, i, i+1, i+1)
		}
		fmt.Fprintf(&b, `"d40": {"type": %q}}, "$ref": "#/$defs/d0"}`, leaf)
		return b.String()
	}
	_, err := Diff([]byte(defs("string")), []byte(defs("integer")))
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("err = %v, want ErrTooComplex", err)
	}
}

// A chain of distinct nested unions is bounded by the comparison depth, not
// only by the loader's nesting bound.
func TestCompareDepthIsBounded(t *testing.T) {
	st := newState(Strict, "old vs new")
	st.depth = maxCompareDepth
	c := &ctx{st: st}
	compare(c, &schema{kind: kindString, str: &stringSpec{}}, &schema{kind: kindString, str: &stringSpec{}})
	if !errors.Is(st.err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", st.err)
	}
}

func TestDiffUnknownPolicy(t *testing.T) {
	_, err := DiffPolicy("RELAXED", []byte("{}"), []byte("{}"))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
}
