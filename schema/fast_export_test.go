package schema

import (
	"bytes"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Test hooks for the fast path (fast.go), used by the external tests.

// ReferenceOnly returns a copy of v whose Validate never takes the fast path:
// the same code, so its results are the reference the fast path must agree
// with.
func (v *Validator) ReferenceOnly() *Validator {
	r := *v
	r.schemas = make(map[versionKey]*compiled, len(v.schemas))
	for k, c := range v.schemas {
		cc := *c
		cc.fast = nil
		r.schemas[k] = &cc
	}
	return &r
}

// FastValid reports whether the schema version has a fast path, and whether
// the fast path accepts payload.
func (v *Validator) FastValid(eventName, version string, payload []byte) (compiled, valid bool) {
	c, err := v.schema(eventName, version)
	if err != nil || c.fast == nil {
		return false, false
	}
	return true, c.fast.valid(payload)
}

// CompileFast compiles a schema document into a fast path, or returns nil if
// it is outside the subset.
func CompileFast(schemaJSON []byte) func([]byte) bool {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil
	}
	fc := compileFast(doc)
	if fc == nil {
		return nil
	}
	return fc.valid
}
