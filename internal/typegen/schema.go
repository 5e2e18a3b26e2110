package typegen

import (
	"slices"
	"strings"
)

// node is one schema of the supported subset, checked: every keyword is
// known, fits the node's type and has a well-formed value.
type node struct {
	ptr         string // JSON pointer of this schema in its document
	typ         string // object, string, number, integer, boolean or array
	format      string // uuid, email, date-time or ""
	enum        []string
	title       string
	description string
	pii         bool
	props       []*property // objects, in document order
	items       *node       // arrays
}

type property struct {
	name     string
	required bool
	schema   *node
}

// Schema types of the subset, and what applies to them.
var (
	anyType = []string{"object", "string", "number", "integer", "boolean", "array"}
	numeric = []string{"number", "integer"}
	// formats are the string formats understood. "date" (an RFC 3339
	// full-date, 2025-10-24) is beyond the subset first agreed on; it is
	// accepted because invoice.generated uses it and it maps losslessly to a
	// plain string (time.Time only decodes date-times).
	formats  = []string{"uuid", "email", "date-time", "date"}
	rootOnly = []string{"$schema", "$id"}
)

// keywords lists the keywords typegen understands and the types they may
// appear on. Everything else is refused rather than ignored: an unknown
// keyword (oneOf, $ref, additionalProperties, …) may change the shape of
// the data, and a struct that silently disagrees with its schema is worse
// than a failed build.
var keywords = map[string][]string{
	"$schema":          {"object"},
	"$id":              {"object"},
	"title":            anyType,
	"description":      anyType,
	"default":          anyType,
	"examples":         anyType,
	"confluent:tags":   anyType,
	"type":             anyType,
	"properties":       {"object"},
	"required":         {"object"},
	"enum":             {"string"},
	"format":           {"string"},
	"pattern":          {"string"},
	"minLength":        {"string"},
	"maxLength":        {"string"},
	"minimum":          numeric,
	"maximum":          numeric,
	"exclusiveMinimum": numeric,
	"minItems":         {"array"},
	"maxItems":         {"array"},
	"items":            {"array"},
}

// parseSchema checks v, the schema at ptr, against the subset and returns
// it as a node. root is true for the document itself.
func parseSchema(v *jvalue, ptr string, root bool) (*node, error) {
	if v.kind != jObject {
		return nil, errAt(ptr, "a schema must be a JSON object, not %s", v.kind)
	}
	n := &node{ptr: ptr}
	t := v.get("type")
	switch {
	case t == nil:
		return nil, errAt(ptr, `"type" is required`)
	case t.kind != jString:
		return nil, errAt(child(ptr, "type"), `"type" must be one type name (type unions are not supported)`)
	case !slices.Contains(anyType, t.str):
		return nil, errAt(child(ptr, "type"), "type %q is not supported", t.str)
	}
	n.typ = t.str

	for _, m := range v.members {
		at := child(ptr, m.key)
		types, ok := keywords[m.key]
		switch {
		case !ok:
			return nil, errAt(at, "keyword %q is outside the schema subset typegen supports", m.key)
		case slices.Contains(rootOnly, m.key) && !root:
			return nil, errAt(at, "keyword %q is only allowed at the top of the document", m.key)
		case !slices.Contains(types, n.typ):
			return nil, errAt(at, "keyword %q does not apply to type %q", m.key, n.typ)
		}
		if err := n.keyword(m.key, m.val, at); err != nil {
			return nil, err
		}
	}
	return n, n.finish(v, ptr, root)
}

// keyword checks the value of one keyword and records what generation needs.
func (n *node) keyword(key string, v *jvalue, at string) error {
	switch key {
	case "$schema", "$id", "pattern":
		return wantKind(v, at, jString)
	case "title":
		n.title = v.str
		return wantKind(v, at, jString)
	case "description":
		n.description = v.str
		return wantKind(v, at, jString)
	case "examples":
		return wantKind(v, at, jArray)
	case "format":
		if err := wantKind(v, at, jString); err != nil {
			return err
		}
		if !slices.Contains(formats, v.str) {
			return errAt(at, "format %q is not supported (want one of %s)", v.str, strings.Join(formats, ", "))
		}
		n.format = v.str
	case "confluent:tags":
		tags, err := stringList(v, at)
		if err != nil {
			return err
		}
		for i, tag := range tags {
			if tag != "PII" {
				return errAt(index(at, i), `tag %q is not supported (only "PII")`, tag)
			}
		}
		n.pii = len(tags) > 0
	case "enum":
		vals, err := stringList(v, at)
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return errAt(at, "enum must list at least one value")
		}
		n.enum = vals
	case "minLength", "maxLength", "minItems", "maxItems":
		if _, err := v.num.Int64(); v.kind != jNumber || err != nil || strings.HasPrefix(string(v.num), "-") {
			return errAt(at, "%s must be a non-negative integer", key)
		}
	case "minimum", "maximum", "exclusiveMinimum":
		return wantKind(v, at, jNumber)
	}
	// "default", and "type", "properties", "required" and "items", which
	// finish handles once every keyword is known.
	return nil
}

// finish parses the keywords that depend on each other: properties,
// required and items.
func (n *node) finish(v *jvalue, ptr string, root bool) error {
	if root && n.typ != "object" {
		return errAt(child(ptr, "type"), `the payload schema must be of type "object"`)
	}
	switch n.typ {
	case "object":
		return n.parseObject(v, ptr)
	case "array":
		items := v.get("items")
		if items == nil {
			return errAt(ptr, `an array needs "items"`)
		}
		at := child(ptr, "items")
		it, err := parseSchema(items, at, false)
		if err != nil {
			return err
		}
		if it.typ == "array" {
			return errAt(child(at, "type"), "arrays of arrays are not supported")
		}
		n.items = it
	}
	return nil
}

func (n *node) parseObject(v *jvalue, ptr string) error {
	props := v.get("properties")
	if props == nil || props.kind != jObject || len(props.members) == 0 {
		// A free-form object has no struct to become; a map would lose the
		// typing this package exists for.
		return errAt(ptr, `an object needs a non-empty "properties" object`)
	}
	at := child(ptr, "properties")
	for _, m := range props.members {
		s, err := parseSchema(m.val, child(at, m.key), false)
		if err != nil {
			return err
		}
		n.props = append(n.props, &property{name: m.key, schema: s})
	}
	req := v.get("required")
	if req == nil {
		return nil
	}
	names, err := stringList(req, child(ptr, "required"))
	if err != nil {
		return err
	}
	for i, name := range names {
		j := slices.IndexFunc(n.props, func(p *property) bool { return p.name == name })
		if j < 0 {
			return errAt(index(child(ptr, "required"), i), "required property %q is not in properties", name)
		}
		n.props[j].required = true
	}
	return nil
}

func wantKind(v *jvalue, at string, k jkind) error {
	if v.kind != k {
		return errAt(at, "must be of JSON type %s, not %s", k, v.kind)
	}
	return nil
}

// stringList reads an array of distinct strings.
func stringList(v *jvalue, at string) ([]string, error) {
	if err := wantKind(v, at, jArray); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(v.elems))
	for i, e := range v.elems {
		if e.kind != jString {
			return nil, errAt(index(at, i), "must be of JSON type string, not %s", e.kind)
		}
		if slices.Contains(out, e.str) {
			return nil, errAt(index(at, i), "%q is listed twice", e.str)
		}
		out = append(out, e.str)
	}
	return out, nil
}
