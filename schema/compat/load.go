package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxDepth bounds how deeply subschemas may nest. Event schemas nest a
// handful of levels; the bound keeps a hostile document from costing more
// than it is worth and gives a clear error instead.
const maxDepth = 256

// loader turns one decoded document into schema nodes.
type loader struct {
	doc   string // "old", "new", "candidate", "history[i]"
	root  any
	nodes map[string]*schema // by pointer: $ref targets are shared nodes
	depth int
	// legacyRef: in drafts up to 07 keywords beside "$ref" are ignored; from
	// 2019-09 on they apply alongside it.
	legacyRef bool
}

// load parses data as a JSON Schema document named doc in errors.
func load(doc string, data []byte) (*schema, error) {
	root, err := decode(doc, data)
	if err != nil {
		return nil, err
	}
	l := &loader{doc: doc, root: root, nodes: map[string]*schema{}}
	if m, ok := root.(map[string]any); ok {
		if d, ok := m["$schema"].(string); ok {
			l.legacyRef = strings.Contains(d, "draft-0")
		}
	}
	s, err := l.node(root, "")
	if err != nil {
		return nil, err
	}
	if err := l.checkRefChains(); err != nil {
		return nil, err
	}
	return s, nil
}

// decode reads exactly one JSON value, with numbers kept exact.
func decode(doc string, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		at := len(data)
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn) && syn.Offset > 0:
			at = int(syn.Offset) - 1 // Offset counts the offending byte
		case errors.Is(err, io.EOF):
			return nil, &SchemaError{Document: doc, Line: 1, Column: 1, Err: ErrMalformedJSON, Detail: "empty document"}
		}
		return nil, syntaxError(doc, data, at, err.Error())
	}
	end := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		for end < len(data) && strings.IndexByte(" \t\r\n", data[end]) >= 0 {
			end++
		}
		return nil, syntaxError(doc, data, end, "unexpected data after the top-level value")
	}
	return v, nil
}

// syntaxError locates the byte at index at as a 1-based line and column.
func syntaxError(doc string, data []byte, at int, detail string) *SchemaError {
	at = min(max(at, 0), len(data))
	line := bytes.Count(data[:at], []byte("\n")) + 1
	col := at - bytes.LastIndexByte(data[:at], '\n')
	return &SchemaError{Document: doc, Line: line, Column: col, Err: ErrMalformedJSON, Detail: detail}
}

func (l *loader) fail(ptr string, cause error, format string, args ...any) *SchemaError {
	return &SchemaError{Document: l.doc, Pointer: ptr, Err: cause, Detail: fmt.Sprintf(format, args...)}
}

// node builds (once) the schema at ptr, whose JSON value is v.
func (l *loader) node(v any, ptr string) (*schema, error) {
	if s, ok := l.nodes[ptr]; ok {
		return s, nil // shared $ref target, possibly still being built
	}
	if l.depth >= maxDepth {
		return nil, l.fail(ptr, ErrTooDeep, "subschemas nest more than %d levels", maxDepth)
	}
	l.depth++
	defer func() { l.depth-- }()

	s := &schema{ptr: ptr}
	l.nodes[ptr] = s // registered before its children, so a cycle finds it
	switch x := v.(type) {
	case bool:
		s.canon = canonical(x)
		s.kind = kindFalse
		if x {
			s.kind = kindEmpty
		}
	case map[string]any:
		if err := l.object(s, x); err != nil {
			return nil, err
		}
	default:
		return nil, l.fail(ptr, ErrNotSchema, "a schema must be an object or a boolean, not %s", jsonKind(v))
	}
	return s, nil
}

// object fills s from a schema object. Like everit's loader, it extracts one
// facet per independent keyword group (enum, const, each of allOf/anyOf/
// oneOf, not, the type-specific keywords, $ref); a single facet becomes the
// node itself and several are joined by a synthetic allOf.
func (l *loader) object(s *schema, m map[string]any) error {
	ptr := s.ptr
	s.canon = canonical(m)
	if err := l.annotations(s, m); err != nil {
		return err
	}
	if _, hasRef := m["$ref"]; hasRef && l.legacyRef {
		f, err := l.refFacet(m, ptr)
		if err != nil {
			return err
		}
		s.kind, s.ref, s.target = kindRef, f.ref, f.target
		return nil
	}

	var facets []*schema
	add := func(f *schema, err error) error {
		if err == nil && f != nil {
			facets = append(facets, f)
		}
		return err
	}
	if err := add(l.enumFacet(m, ptr)); err != nil {
		return err
	}
	if _, ok := m["const"]; ok {
		facets = append(facets, &schema{kind: kindConst, ptr: ptr, canon: "const:" + s.canon, cnst: canonical(m["const"])})
	}
	for _, c := range []criterion{allOf, anyOf, oneOf} {
		if err := add(l.combinedFacet(m, ptr, c)); err != nil {
			return err
		}
	}
	if v, ok := m["not"]; ok {
		n, err := l.node(v, child(ptr, "not"))
		if err != nil {
			return err
		}
		facets = append(facets, &schema{kind: kindNot, ptr: ptr, canon: "not:" + s.canon, not: n})
	}
	typed, err := l.typedFacets(m, ptr, s.canon)
	if err != nil {
		return err
	}
	facets = append(facets, typed...)
	if _, ok := m["$ref"]; ok {
		if err := add(l.refFacet(m, ptr)); err != nil {
			return err
		}
	}

	switch len(facets) {
	case 0:
		s.kind = kindEmpty
	case 1:
		f := facets[0]
		s.kind, s.str, s.num, s.obj, s.arr = f.kind, f.str, f.num, f.obj, f.arr
		s.enum, s.cnst, s.crit, s.subs, s.virtual = f.enum, f.cnst, f.crit, f.subs, f.virtual
		s.not, s.ref, s.target = f.not, f.ref, f.target
	default:
		s.kind, s.crit, s.subs, s.virtual = kindCombined, allOf, facets, true
	}
	return nil
}

func (l *loader) annotations(s *schema, m map[string]any) error {
	for _, a := range []struct {
		key string
		dst **string
	}{{"$id", &s.id}, {"title", &s.title}, {"description", &s.description}} {
		key, dst := a.key, a.dst
		if v, ok := m[key]; ok {
			str, ok := v.(string)
			if !ok {
				return l.fail(child(s.ptr, key), ErrNotSchema, "%q must be a string, not %s", key, jsonKind(v))
			}
			*dst = &str
		}
	}
	if v, ok := m["default"]; ok {
		d := canonical(v)
		s.def = &d
	}
	return nil
}

func (l *loader) enumFacet(m map[string]any, ptr string) (*schema, error) {
	v, ok := m["enum"]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, l.fail(child(ptr, "enum"), ErrNotSchema, "\"enum\" must be an array, not %s", jsonKind(v))
	}
	f := &schema{kind: kindEnum, ptr: ptr, canon: "enum:" + canonical(v), enum: make(map[string]bool, len(list))}
	for _, e := range list {
		f.enum[canonical(e)] = true
	}
	return f, nil
}

func (l *loader) combinedFacet(m map[string]any, ptr string, c criterion) (*schema, error) {
	v, ok := m[c.String()]
	if !ok {
		return nil, nil
	}
	at := child(ptr, c.String())
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, l.fail(at, ErrNotSchema, "%q must be a non-empty array of schemas", c.String())
	}
	f := &schema{kind: kindCombined, ptr: ptr, canon: c.String() + ":" + canonical(v), crit: c}
	for i, e := range list {
		sub, err := l.node(e, child(at, fmt.Sprint(i)))
		if err != nil {
			return nil, err
		}
		f.subs = append(f.subs, sub)
	}
	return f, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
