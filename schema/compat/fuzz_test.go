package compat

import (
	"slices"
	"testing"
)

// FuzzDiff: no input may panic or hang; errors are fine. When both inputs
// are schemas, Diff must be deterministic, and a schema compared with itself
// must be compatible (the identity pairing of every union exists).
func FuzzDiff(f *testing.F) {
	seeds := [][2]string{
		{openV1, openOptional},
		{statusABC, statusAB},
		{nullableNote, requiredNote},
		{`{"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"}`, `{"$ref": "#"}`},
		{`{"anyOf": [{"type": "string"}, {"allOf": [{"not": {"type": "null"}}, {"enum": [1, 2]}]}]}`, `{"oneOf": [{"type": ["string", "null"]}]}`},
		{`{"type": "array", "prefixItems": [true, false], "items": {"multipleOf": 0.5}, "unevaluatedItems": false}`, `{"items": [{}], "additionalItems": {"minimum": 1e3}}`},
		{`{"patternProperties": {"^a": {"type": "integer"}}, "additionalProperties": false, "dependentRequired": {"a": ["b"]}}`, `{"properties": {"ab": {"type": "number"}}, "dependencies": {"a": {"required": ["c"]}}}`},
		{`true`, `false`},
		{`{`, `[]`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, p := range policies {
			d1, err1 := DiffPolicy(p, a, b)
			d2, err2 := DiffPolicy(p, a, b)
			if (err1 == nil) != (err2 == nil) || !slices.Equal(d1, d2) {
				t.Fatalf("%s: Diff is not deterministic: %v %v / %v %v", p, d1, err1, d2, err2)
			}
		}
		self, err := Diff(a, a)
		if err != nil {
			return
		}
		for _, d := range self {
			if !d.Type.IsCompatible(Strict) {
				t.Fatalf("schema incompatible with itself: %v\n%s", self, a)
			}
		}
	})
}
