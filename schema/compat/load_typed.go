package compat

import (
	"encoding/json"
	"math/big"
	"sort"
)

// familyKeywords are the keywords that, without "type", still make everit
// build a schema of that family (with the type itself not required).
var familyKeywords = []struct {
	name     string
	keywords []string
}{
	{"string", []string{"minLength", "maxLength", "pattern", "format"}},
	{"number", []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}},
	{"object", []string{"properties", "required", "additionalProperties", "patternProperties",
		"unevaluatedProperties", "dependentRequired", "dependentSchemas", "dependencies",
		"minProperties", "maxProperties", "propertyNames"}},
	{"array", []string{"items", "prefixItems", "additionalItems", "unevaluatedItems", "minItems",
		"maxItems", "uniqueItems", "contains", "minContains", "maxContains"}},
}

var typeNames = map[string]bool{
	"string": true, "number": true, "integer": true, "boolean": true,
	"null": true, "object": true, "array": true,
}

// typedFacets returns the type-specific facets of m: one per declared type
// (several declared types form a virtual anyOf, as everit builds for a type
// list), or without "type" one per keyword family present.
func (l *loader) typedFacets(m map[string]any, ptr, canon string) ([]*schema, error) {
	names, err := l.declaredTypes(m, ptr)
	if err != nil {
		return nil, err
	}
	declared := names != nil
	if !declared {
		for _, fam := range familyKeywords {
			for _, k := range fam.keywords {
				if _, ok := m[k]; ok {
					names = append(names, fam.name)
					break
				}
			}
		}
	}
	facets := make([]*schema, 0, len(names))
	for _, n := range names {
		f, err := l.typed(n, m, ptr, canon)
		if err != nil {
			return nil, err
		}
		facets = append(facets, f)
	}
	if declared && len(facets) > 1 {
		u := &schema{kind: kindCombined, ptr: ptr, canon: "type:" + canon, crit: anyOf, subs: facets, virtual: true}
		return []*schema{u}, nil
	}
	return facets, nil
}

// declaredTypes returns the de-duplicated names of "type", or nil without it.
func (l *loader) declaredTypes(m map[string]any, ptr string) ([]string, error) {
	v, ok := m["type"]
	if !ok {
		return nil, nil
	}
	var raw []any
	switch x := v.(type) {
	case string:
		raw = []any{x}
	case []any:
		raw = x
	}
	if len(raw) == 0 {
		return nil, l.fail(child(ptr, "type"), ErrNotSchema, "\"type\" must be a type name or a non-empty array of them")
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range raw {
		n, ok := r.(string)
		if !ok || !typeNames[n] {
			return nil, l.fail(child(ptr, "type"), ErrNotSchema, "unknown type %s; want string, number, integer, boolean, null, object or array", canonical(r))
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names, nil
}

// typed builds the facet of one type from the keywords that apply to it.
func (l *loader) typed(name string, m map[string]any, ptr, canon string) (*schema, error) {
	f := &schema{ptr: ptr, canon: name + ":" + canon}
	var err error
	switch name {
	case "string":
		f.kind = kindString
		f.str, err = l.stringSpec(m, ptr)
	case "number", "integer":
		f.kind = kindNumber
		f.num, err = l.numberSpec(m, ptr)
		if f.num != nil {
			f.num.integer = name == "integer"
		}
	case "boolean":
		f.kind = kindBoolean
	case "null":
		f.kind = kindNull
	case "object":
		f.kind = kindObject
		f.obj, err = l.objectSpec(m, ptr)
	case "array":
		f.kind = kindArray
		f.arr, err = l.arraySpec(m, ptr)
	}
	return f, err
}

func (l *loader) stringSpec(m map[string]any, ptr string) (*stringSpec, error) {
	sp := &stringSpec{}
	var err error
	if sp.minLength, err = l.count(m, "minLength", ptr); err != nil {
		return nil, err
	}
	if sp.maxLength, err = l.count(m, "maxLength", ptr); err != nil {
		return nil, err
	}
	if v, ok := m["pattern"]; ok {
		p, ok := v.(string)
		if !ok {
			return nil, l.fail(child(ptr, "pattern"), ErrNotSchema, "\"pattern\" must be a string, not %s", jsonKind(v))
		}
		sp.pattern = &p
	}
	return sp, nil
}

func (l *loader) numberSpec(m map[string]any, ptr string) (*numberSpec, error) {
	sp := &numberSpec{}
	for _, k := range []struct {
		key string
		dst **big.Rat
	}{{"minimum", &sp.minimum}, {"maximum", &sp.maximum}, {"multipleOf", &sp.multipleOf}} {
		r, err := l.number(m, k.key, ptr)
		if err != nil {
			return nil, err
		}
		*k.dst = r
	}
	if sp.multipleOf != nil && sp.multipleOf.Sign() <= 0 {
		return nil, l.fail(child(ptr, "multipleOf"), ErrNotSchema, "\"multipleOf\" must be greater than 0")
	}
	// exclusiveMaximum/-Minimum are numbers since draft 06; the draft-04
	// boolean form makes maximum/minimum exclusive, as everit reads it.
	for _, k := range []struct {
		key       string
		dst, incl **big.Rat
	}{{"exclusiveMaximum", &sp.exclMax, &sp.maximum}, {"exclusiveMinimum", &sp.exclMin, &sp.minimum}} {
		if b, ok := m[k.key].(bool); ok {
			if b {
				*k.dst, *k.incl = *k.incl, nil
			}
			continue
		}
		r, err := l.number(m, k.key, ptr)
		if err != nil {
			return nil, err
		}
		*k.dst = r
	}
	return sp, nil
}

// boolOrSchema reads additionalProperties/additionalItems the way everit
// does: absent or true permits without a schema, false forbids, and a schema
// (even {}) permits under that schema.
func (l *loader) boolOrSchema(m map[string]any, key, ptr string) (permits bool, s *schema, err error) {
	v, ok := m[key]
	if !ok {
		return true, nil, nil
	}
	if b, ok := v.(bool); ok {
		return b, nil, nil
	}
	s, err = l.node(v, child(ptr, key))
	return true, s, err
}

func (l *loader) optionalNode(m map[string]any, key, ptr string) (*schema, error) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	return l.node(v, child(ptr, key))
}

// schemaMap reads a keyword whose value maps names to schemas.
func (l *loader) schemaMap(m map[string]any, key, ptr string) (map[string]*schema, error) {
	out := map[string]*schema{}
	v, ok := m[key]
	if !ok {
		return out, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, l.fail(child(ptr, key), ErrNotSchema, "%q must be an object, not %s", key, jsonKind(v))
	}
	for _, k := range sortedKeys(obj) {
		s, err := l.node(obj[k], child(child(ptr, key), k))
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func (l *loader) number(m map[string]any, key, ptr string) (*big.Rat, error) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, l.fail(child(ptr, key), ErrNotSchema, "%q must be a number, not %s", key, jsonKind(v))
	}
	r, err := parseNumber(n)
	if err != nil {
		return nil, l.fail(child(ptr, key), ErrUnsupported, "%q: %v", key, err)
	}
	return r, nil
}

// count reads a keyword whose value must be a non-negative integer.
func (l *loader) count(m map[string]any, key, ptr string) (*big.Rat, error) {
	r, err := l.number(m, key, ptr)
	if err == nil && r != nil && (r.Sign() < 0 || !r.IsInt()) {
		return nil, l.fail(child(ptr, key), ErrNotSchema, "%q must be a non-negative integer", key)
	}
	return r, err
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
