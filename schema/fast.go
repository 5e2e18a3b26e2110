package schema

import (
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strconv"
)

// The fast path. Validate's reference path decodes a payload into a
// map[string]any and hands it to the JSON Schema engine: ~50 allocations for
// a small event. Most payloads on the backbone are valid, so each schema
// version that stays within the catalog's keyword subset is also compiled
// into a fastChecker that walks the payload tokens once, allocation-free.
//
// The fast path can only say "valid". It answers true only when it is certain
// the reference path would accept the payload; on anything else (a violation,
// a syntax error, a value it cannot judge exactly) it answers false and the
// reference path runs and produces the errors. Correctness therefore rests on
// one invariant, checked by the differential tests and FuzzFastPath:
//
//	fastChecker.valid(p) ⇒ reference(p) == nil
//
// The compiler is equally conservative: a schema using anything outside the
// subset it understands gets no fast path at all.

// fastChecker is the compiled fast path of one schema version.
type fastChecker struct {
	root *fastNode
	// key is the node of the top-level partition key property, whose value
	// the walk captures so the publisher need not scan the payload again.
	key *fastNode
}

type fastType uint8

const (
	fastAny fastType = iota // any well-formed value: a required name without a property schema
	fastObject
	fastArray
	fastString
	fastNumber
	fastInteger
	fastBoolean
)

// fastNode is one compiled (sub)schema. Only the fields of its type are used.
type fastNode struct {
	typ fastType

	// object
	props    map[string]fastProp
	required uint64 // one bit per required name, see fastProp.bit

	// array
	items              *fastNode // nil: any items
	minItems, maxItems int       // maxItems < 0: unbounded

	// string
	minLen, maxLen int // code points; maxLen < 0: unbounded
	enum           []string
	format         func([]byte) bool
	pattern        *regexp.Regexp

	// number, integer; each bound is exactly representable (see exactBound)
	min, max, exclMin, exclMax             float64
	hasMin, hasMax, hasExclMin, hasExclMax bool
}

type fastProp struct {
	node *fastNode
	bit  uint64 // non-zero for a required name
}

// errOutsideSubset says the schema uses something the fast path does not
// implement exactly. It is never reported: the version just has no fast path.
var errOutsideSubset = errors.New("schema: outside the fast-path subset")

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// compileFast compiles a schema document, as decoded by
// jsonschema.UnmarshalJSON (numbers are json.Number), into a fastChecker, or
// returns nil if the document is outside the subset.
func compileFast(doc any) *fastChecker {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	// $schema picks the dialect, and with it the meaning of every keyword:
	// only 2020-12 (the compiler's default when absent) is implemented.
	if s, ok := obj["$schema"]; ok && s != draft2020 {
		return nil
	}
	if id, ok := obj["$id"]; ok {
		if _, ok := id.(string); !ok {
			return nil
		}
	}
	root, err := compileNode(obj, true)
	if err != nil {
		return nil
	}
	return &fastChecker{root: root}
}

// annotations are keywords that never affect validation.
var annotations = map[string]bool{
	"description": true, "title": true, "default": true, "examples": true,
	"$comment": true, "confluent:tags": true,
}

// keywords lists, per type, the assertions the fast path implements. A
// keyword of another type (minLength on a number) is ignored by the reference
// but refused here: such a schema is a mistake, and leaving it to the
// reference path keeps this compiler to the obvious cases.
var keywords = map[fastType]map[string]bool{
	fastObject:  {"properties": true, "required": true},
	fastArray:   {"items": true, "minItems": true, "maxItems": true},
	fastString:  {"minLength": true, "maxLength": true, "enum": true, "format": true, "pattern": true},
	fastNumber:  {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true},
	fastInteger: {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true},
	fastBoolean: {},
}

var types = map[string]fastType{
	"object": fastObject, "array": fastArray, "string": fastString,
	"number": fastNumber, "integer": fastInteger, "boolean": fastBoolean,
}

func compileNode(obj map[string]any, root bool) (*fastNode, error) {
	name, ok := obj["type"].(string) // a list of types is outside the subset
	if !ok {
		return nil, errOutsideSubset
	}
	n := &fastNode{typ: types[name], maxItems: -1, maxLen: -1}
	if n.typ == fastAny {
		return nil, errOutsideSubset // "null" or not a type
	}
	for k := range obj {
		switch {
		case k == "type", annotations[k], keywords[n.typ][k]:
		case root && (k == "$schema" || k == "$id"): // checked by compileFast
		default:
			return nil, errOutsideSubset
		}
	}
	var err error
	switch n.typ {
	case fastObject:
		err = n.compileObject(obj)
	case fastArray:
		err = n.compileArray(obj)
	case fastString:
		err = n.compileString(obj)
	case fastNumber, fastInteger:
		err = n.compileNumber(obj)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (n *fastNode) compileObject(obj map[string]any) error {
	n.props = map[string]fastProp{}
	if v, ok := obj["properties"]; ok {
		props, ok := v.(map[string]any)
		if !ok {
			return errOutsideSubset
		}
		for name, p := range props {
			sub, ok := p.(map[string]any)
			if !ok {
				return errOutsideSubset // boolean schemas
			}
			c, err := compileNode(sub, false)
			if err != nil {
				return err
			}
			n.props[name] = fastProp{node: c}
		}
	}
	if v, ok := obj["required"]; ok {
		req, ok := v.([]any)
		if !ok || len(req) > 64 { // one bit each in fastNode.required
			return errOutsideSubset
		}
		for i, r := range req {
			name, ok := r.(string)
			if !ok {
				return errOutsideSubset
			}
			p, ok := n.props[name]
			if !ok {
				p.node = &fastNode{typ: fastAny} // must be present, may be anything
			}
			p.bit = 1 << i
			n.props[name] = p
			n.required |= p.bit
		}
	}
	return nil
}

func (n *fastNode) compileArray(obj map[string]any) error {
	var err error
	if v, ok := obj["items"]; ok {
		sub, ok := v.(map[string]any)
		if !ok {
			return errOutsideSubset // boolean schema or draft-4 tuple form
		}
		if n.items, err = compileNode(sub, false); err != nil {
			return err
		}
	}
	if n.minItems, err = count(obj, "minItems", 0); err != nil {
		return err
	}
	n.maxItems, err = count(obj, "maxItems", -1)
	return err
}

func (n *fastNode) compileString(obj map[string]any) error {
	var err error
	if n.minLen, err = count(obj, "minLength", 0); err != nil {
		return err
	}
	if n.maxLen, err = count(obj, "maxLength", -1); err != nil {
		return err
	}
	if v, ok := obj["enum"]; ok {
		vals, ok := v.([]any)
		if !ok {
			return errOutsideSubset
		}
		n.enum = make([]string, 0, len(vals))
		for _, x := range vals {
			s, ok := x.(string) // numbers, objects… would need the reference's equality
			if !ok {
				return errOutsideSubset
			}
			n.enum = append(n.enum, s)
		}
	}
	if v, ok := obj["format"]; ok {
		s, _ := v.(string)
		if n.format = formatCheckers[s]; n.format == nil {
			return errOutsideSubset
		}
	}
	if v, ok := obj["pattern"]; ok {
		s, ok := v.(string)
		if !ok {
			return errOutsideSubset
		}
		// The reference compiles patterns with Go's regexp too (its default
		// RegexpEngine), so an unanchored Match means the same thing here.
		re, err := regexp.Compile(s)
		if err != nil {
			return errOutsideSubset
		}
		n.pattern = re
	}
	return nil
}

func (n *fastNode) compileNumber(obj map[string]any) error {
	var err error
	if n.min, n.hasMin, err = exactBound(obj, "minimum"); err != nil {
		return err
	}
	if n.max, n.hasMax, err = exactBound(obj, "maximum"); err != nil {
		return err
	}
	if n.exclMin, n.hasExclMin, err = exactBound(obj, "exclusiveMinimum"); err != nil {
		return err
	}
	n.exclMax, n.hasExclMax, err = exactBound(obj, "exclusiveMaximum")
	return err
}

// count reads a non-negative integer keyword written as a plain integer.
func count(obj map[string]any, key string, absent int) (int, error) {
	v, ok := obj[key]
	if !ok {
		return absent, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, errOutsideSubset
	}
	i, err := strconv.Atoi(string(num))
	if err != nil || i < 0 || i > 1<<31 {
		return 0, errOutsideSubset
	}
	return i, nil
}

// exactBound reads a numeric bound that float64 comparison handles exactly.
// The reference compares big.Rat values: the bound's literal against the
// shortest decimal form of the payload's float64 (fmt.Sprint). If the bound
// is exactly a float64 b and its shortest decimal form is the literal itself,
// then for every float64 x, x < b ⇔ Sprint(x) < literal (a shortest form
// rounds to x, so it is not on b's side of the midpoint between x and b), and
// x == b ⇔ they are equal. Bounds like 0.1 fail the test and get no fast path.
func exactBound(obj map[string]any, key string) (float64, bool, error) {
	v, ok := obj[key]
	if !ok {
		return 0, false, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, false, errOutsideSubset
	}
	lit, ok := new(big.Rat).SetString(string(num))
	if !ok {
		return 0, false, errOutsideSubset
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return 0, false, errOutsideSubset
	}
	exact, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok || exact.Cmp(lit) != 0 || new(big.Rat).SetFloat64(f).Cmp(lit) != 0 {
		return 0, false, errOutsideSubset
	}
	return f, true, nil
}
