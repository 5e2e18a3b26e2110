package compat

import "fmt"

// Difference is one change from an old schema to a new one.
type Difference struct {
	Type Type
	// Pointer is an RFC 6901 pointer to where the change is, "" for the root.
	// It follows Confluent's path (see the package documentation): keyword
	// differences point at the keyword ("/properties/id/maxLength"),
	// "required" changes at "/required/<property>".
	Pointer string
}

// String renders d as a CLI line: "<TYPE> <pointer>", the root as "".
func (d Difference) String() string { return line(d.Type, d.Pointer) }

func line(t Type, ptr string) string {
	if ptr == "" {
		ptr = `""`
	}
	return string(t) + " " + ptr
}

// Diff returns Confluent's differences from oldSchema to newSchema under
// the Strict policy, Confluent's default. Read oldSchema as the schema whose
// data must stay readable: BACKWARD compares (latest, candidate), FORWARD
// (candidate, latest). Differences come in a deterministic order (Confluent's
// traversal order with properties sorted by name). Errors are *SchemaError
// naming "old" or "new".
func Diff(oldSchema, newSchema []byte) ([]Difference, error) {
	return DiffPolicy(Strict, oldSchema, newSchema)
}

// DiffPolicy is Diff under policy p. The policy matters beyond classifying
// the result: where Confluent tries alternatives (union members, the schema
// that covers a property in a partially open content model, "not") it keeps
// the first one that is compatible under the policy, so the differences
// themselves can depend on it.
func DiffPolicy(p Policy, oldSchema, newSchema []byte) ([]Difference, error) {
	if e := p.parseError(); e != nil {
		return nil, e
	}
	o, err := load("old", oldSchema)
	if err != nil {
		return nil, err
	}
	n, err := load("new", newSchema)
	if err != nil {
		return nil, err
	}
	return diffSchemas(p, o, n, "old vs new")
}

func diffSchemas(p Policy, o, n *schema, label string) ([]Difference, error) {
	st := newState(p, label)
	c := &ctx{st: st}
	compare(c, o, n)
	if st.err != nil {
		return nil, st.err
	}
	out := make([]Difference, len(c.diffs))
	for i, d := range c.diffs {
		out[i] = Difference{Type: d.t, Pointer: pointer(d.segs)}
	}
	return out, nil
}

// compare is SchemaDiff.compare(Context, Schema, Schema), memoized per pair
// of nodes as in Confluent's Context.compareMemoized: a pair met again while
// it is still being compared is a recursive cycle and counts as compatible,
// which is what makes recursive schemas terminate.
func compare(c *ctx, o, n *schema) {
	if c.failed() {
		return
	}
	switch {
	case o == nil && n == nil:
		return
	case o == nil:
		c.add(SchemaAdded)
		return
	case n == nil:
		c.add(SchemaRemoved)
		return
	}
	o, n = deref(o), deref(n)
	key := pair{o, n}
	if ds, ok := c.st.memo[key]; ok {
		c.addRebased(ds)
		return
	}
	if c.st.inProgress[key] {
		return
	}
	if c.st.depth >= maxCompareDepth {
		c.st.err = &SchemaError{Document: c.st.label, Pointer: pointer(c.path), Err: ErrTooDeep,
			Detail: fmt.Sprintf("comparison nests more than %d levels", maxCompareDepth)}
		return
	}
	c.st.inProgress[key] = true
	c.st.depth++
	rel := &ctx{st: c.st}
	compareNodes(rel, o, n)
	c.st.depth--
	delete(c.st.inProgress, key)
	c.st.memo[key] = rel.diffs
	c.addRebased(rel.diffs)
}

// compareNodes is the body of SchemaDiff.compare after $ref normalization.
func compareNodes(c *ctx, o, n *schema) {
	if o.kind != kindCombined && n.kind == kindCombined {
		// A union gained around a schema: compatible if one member accepts
		// the old schema (singleton unions are transparent).
		if len(n.subs) == 1 {
			if adoptIfCompatible(c, o, n.subs[0]) {
				return
			}
		} else if n.crit == anyOf || n.crit == oneOf {
			for _, s := range n.subs {
				if adoptIfCompatible(c, o, s) {
					c.add(SumTypeExtended)
					return
				}
			}
		}
	} else if o.kind == kindCombined && n.kind != kindCombined {
		// A union or intersection dropped: an intersection may lose
		// conjuncts if one of them alone is compatible with the new schema.
		if len(o.subs) == 1 {
			if adoptIfCompatible(c, o.subs[0], n) {
				return
			}
		} else if o.crit == allOf {
			for _, s := range o.subs {
				if adoptIfCompatible(c, s, n) {
					c.add(ProductTypeNarrowed)
					return
				}
			}
		}
	}

	if o.kind != n.kind {
		// false accepts nothing, so anything may replace it; the empty
		// schema (true, {}) accepts everything, so it may replace anything.
		if o.kind != kindFalse && n.kind != kindEmpty {
			c.add(TypeChanged)
		}
		return
	}

	compareAnnotations(c, o, n)
	switch o.kind {
	case kindString:
		compareString(c, o.str, n.str)
	case kindNumber:
		compareNumber(c, o.num, n.num)
	case kindEnum:
		compareEnum(c, o, n)
	case kindConst:
		if o.cnst != n.cnst {
			c.addAt("const", EnumArrayChanged)
		}
	case kindCombined:
		compareCombined(c, o, n)
	case kindNot:
		compareNot(c, o, n)
	case kindObject:
		compareObject(c, o.obj, n.obj)
	case kindArray:
		compareArray(c, o.arr, n.arr)
	}
}

// adoptIfCompatible compares o and n in a sub-context and, if the result is
// compatible under the policy, adopts its differences.
func adoptIfCompatible(c *ctx, o, n *schema) bool {
	sc := c.sub()
	compare(sc, o, n)
	if !sc.compatible() {
		return false
	}
	c.addAll(sc.diffs)
	return true
}

func compareAnnotations(c *ctx, o, n *schema) {
	if !eqString(o.id, n.id) {
		c.add(IDChanged)
	}
	if !eqString(o.title, n.title) {
		c.add(TitleChanged)
	}
	if !eqString(o.description, n.description) {
		c.add(DescriptionChanged)
	}
	if !eqString(o.def, n.def) {
		c.add(DefaultChanged)
	}
}

func eqString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
