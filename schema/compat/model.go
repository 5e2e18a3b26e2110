package compat

import (
	"math/big"
	"regexp"
)

// kind mirrors the everit Schema class that Confluent's SchemaDiff switches
// on: two schemas of different kinds are TYPE_CHANGED (with the exceptions
// SchemaDiff makes for unions, false and the empty schema).
type kind uint8

const (
	kindEmpty    kind = iota // true, {} or annotations only: accepts anything
	kindFalse                // false: accepts nothing
	kindString               // type string, or string keywords without a type
	kindNumber               // type number or integer, or number keywords
	kindBoolean              // type boolean
	kindNull                 // type null
	kindObject               // type object, or object keywords
	kindArray                // type array, or array keywords
	kindEnum                 // enum
	kindConst                // const
	kindCombined             // allOf/anyOf/oneOf, a type list, or several of the above
	kindNot                  // not
	kindRef                  // $ref; compared through its target
)

type criterion uint8

const (
	allOf criterion = iota
	anyOf
	oneOf
)

func (c criterion) String() string {
	return [...]string{"allOf", "anyOf", "oneOf"}[c]
}

// schema is one node of a loaded schema document, shaped like the everit
// object graph Confluent diffs, so that each comparison rule below can follow
// the Java code it cites. Nodes are immutable once loaded and shared: a $ref
// target is the same node wherever it is referenced, which is what makes a
// (old node, new node) pair a sound key for cycle detection.
type schema struct {
	kind kind
	ptr  string // RFC 6901 pointer of the JSON value in its document
	// canon identifies the node's JSON for de-duplicating subschemas, as
	// Confluent does by collecting them into a set of JsonSchema.
	canon string

	// Annotations; nil when absent.
	id, title, description, def *string // def: canonical JSON of "default"

	str  *stringSpec
	num  *numberSpec
	obj  *objectSpec
	arr  *arraySpec
	enum map[string]bool // canonical JSON of each value
	cnst string          // canonical JSON of the value

	crit criterion
	subs []*schema
	// virtual marks a union that has no keyword of its own in the document:
	// a "type" list, or several keyword families on one object, which everit
	// wraps in a synthetic allOf. Differences inside it get no "allOf/i"
	// segment, because no such location exists in the schema.
	virtual bool

	not *schema

	ref    string
	target *schema
}

type stringSpec struct {
	minLength, maxLength *big.Rat
	pattern              *string
}

type numberSpec struct {
	integer                            bool
	minimum, maximum, exclMin, exclMax *big.Rat
	multipleOf                         *big.Rat
}

type objectSpec struct {
	props    map[string]*schema
	order    []string // sorted property names, for a deterministic report
	required map[string]bool
	// additionalProperties as everit models it: absent and true both permit
	// without a schema; false forbids; a schema (even {}) permits under it.
	addlPermits bool
	addl        *schema
	patterns    []patternProp // sorted by pattern: JSON objects are unordered
	uneval      *schema       // unevaluatedProperties
	depRequired map[string]map[string]bool
	depSchemas  map[string]*schema
	minProps    *big.Rat
	maxProps    *big.Rat
}

type patternProp struct {
	re     *regexp.Regexp
	schema *schema
}

// arraySpec follows everit's model, which Confluent's translator maps draft
// 2020-12 onto: prefixItems are the positional item schemas and "items"
// after them is additionalItems; "items" without prefixItems is the schema of
// all items when it is a schema and the additionalItems permission when it
// is a boolean.
type arraySpec struct {
	allItems    *schema
	prefix      []*schema
	addlPermits bool
	addl        *schema
	uneval      *schema // unevaluatedItems
	minItems    *big.Rat
	maxItems    *big.Rat
	minContains *big.Rat
	maxContains *big.Rat
	uniqueItems bool
}

// deref follows $ref to the schema it names; load guarantees the chain ends.
func deref(s *schema) *schema {
	for s != nil && s.kind == kindRef {
		s = s.target
	}
	return s
}

// hasDefault reports whether s, or the schema its $ref names, declares a
// default: Confluent lets a required property with a default be added.
func hasDefault(s *schema) bool {
	for s != nil {
		if s.def != nil {
			return true
		}
		if s.kind != kindRef {
			return false
		}
		s = s.target
	}
	return false
}
