package compat

import "sort"

// compareObject is ObjectSchemaDiff, in its order.
func compareObject(c *ctx, o, n *objectSpec) {
	compareRequired(c, o, n)
	compareProperties(c, o, n)
	compareDependencies(c, o, n)
	compareAdditionalProperties(c, o, n)
	compareUnevaluated(c, "unevaluatedProperties", o.uneval, n.uneval, unevaluatedPropertiesTypes)
	bound(c, "maxProperties", o.maxProps, n.maxProps, MaxPropertiesAdded, MaxPropertiesRemoved, MaxPropertiesIncreased, MaxPropertiesDecreased)
	bound(c, "minProperties", o.minProps, n.minProps, MinPropertiesAdded, MinPropertiesRemoved, MinPropertiesIncreased, MinPropertiesDecreased)
}

// compareRequired looks only at properties both versions declare: a property
// that appears or disappears is judged by compareProperties, which knows the
// content model.
func compareRequired(c *ctx, o, n *objectSpec) {
	for _, k := range o.order {
		ns, ok := n.props[k]
		if !ok {
			continue
		}
		c.enter("required", k)
		switch {
		case o.required[k] && !n.required[k]:
			c.add(RequiredAttributeRemoved)
		case !o.required[k] && n.required[k] && hasDefault(ns):
			c.add(RequiredAttributeWithDefaultAdded)
		case !o.required[k] && n.required[k]:
			c.add(RequiredAttributeAdded)
		}
		c.leave(2)
	}
}

func compareProperties(c *ctx, o, n *objectSpec) {
	c.enter("properties")
	defer c.leave(1)
	for _, k := range union(o.order, n.order) {
		c.enter(k)
		op, np := o.props[k], n.props[k]
		switch {
		case np == nil:
			propertyRemoved(c, op, n, k)
		case op == nil:
			propertyAdded(c, np, o, n, k)
		default:
			compare(c, op, np)
		}
		c.leave(1)
	}
}

// propertyRemoved judges a property the new schema no longer declares by the
// new content model alone: old data may carry the property, so the new
// schema must still accept it somewhere.
func propertyRemoved(c *ctx, op *schema, n *objectSpec, key string) {
	if isOpenObject(n) {
		c.add(PropertyRemovedFromOpenContentModel)
		return
	}
	if partial := partialObjectSchema(n, key); partial != nil {
		sc := c.sub()
		compare(sc, op, partial)
		c.addAll(sc.diffs)
		if sc.compatible() {
			c.add(PropertyRemovedIsCoveredByPartiallyOpenContentModel)
		} else {
			c.add(PropertyRemovedNotCoveredByPartiallyOpenContentModel)
		}
		return
	}
	if deref(op).kind == kindFalse {
		c.add(PropertyWithFalseRemovedFromClosedContentModel)
	} else {
		c.add(PropertyRemovedFromClosedContentModel)
	}
}

// propertyAdded judges a property only the new schema declares by the old
// content model: if the old schema was open, old data may already carry the
// name with any value, which the new property schema might reject.
func propertyAdded(c *ctx, np *schema, o, n *objectSpec, key string) {
	required, withDefault := n.required[key], hasDefault(np)
	if isOpenObject(o) {
		switch {
		case deref(np).kind == kindEmpty:
			c.add(PropertyWithEmptySchemaAddedToOpenContentModel)
		case required && withDefault:
			c.add(RequiredPropertyWithDefaultAddedToOpenContentModel)
		case required:
			c.add(RequiredPropertyAddedToOpenContentModel)
		default:
			c.add(OptionalPropertyAddedToOpenContentModel)
		}
		return
	}
	if partial := partialObjectSchema(o, key); partial != nil {
		sc := c.sub()
		compare(sc, partial, np)
		c.addAll(sc.diffs)
		if sc.compatible() {
			c.add(PropertyAddedIsCoveredByPartiallyOpenContentModel)
		} else {
			c.add(PropertyAddedNotCoveredByPartiallyOpenContentModel)
		}
	}
	// Closed and partially open models alike: old data lacks the property.
	switch {
	case required && withDefault:
		c.add(RequiredPropertyWithDefaultAddedToUnopenContentModel)
	case required:
		c.add(RequiredPropertyAddedToUnopenContentModel)
	default:
		c.add(OptionalPropertyAddedToUnopenContentModel)
	}
}

// isOpenObject: undeclared properties are accepted with any value, i.e.
// additionalProperties is absent or true, there are no patternProperties,
// and unevaluatedProperties is absent or true.
func isOpenObject(sp *objectSpec) bool {
	return sp.addlPermits && sp.addl == nil && len(sp.patterns) == 0 &&
		(sp.uneval == nil || deref(sp.uneval).kind == kindEmpty)
}

// partialObjectSchema returns the schema a partially open content model
// applies to an undeclared property key, or nil if the model is closed for
// it: the first matching patternProperties schema, else the
// additionalProperties schema, else an unevaluatedProperties schema.
func partialObjectSchema(sp *objectSpec, key string) *schema {
	for _, p := range sp.patterns {
		if p.re.MatchString(key) {
			return p.schema
		}
	}
	if sp.addl != nil {
		return sp.addl
	}
	if sp.addlPermits && sp.uneval != nil {
		if k := deref(sp.uneval).kind; k != kindFalse && k != kindEmpty {
			return sp.uneval
		}
	}
	return nil
}

func compareDependencies(c *ctx, o, n *objectSpec) {
	for _, k := range union(sortedKeys(o.depRequired), sortedKeys(n.depRequired)) {
		c.enter("dependentRequired", k)
		od, inOld := o.depRequired[k]
		nd, inNew := n.depRequired[k]
		switch {
		case !inNew:
			c.add(DependencyArrayRemoved)
		case !inOld:
			c.add(DependencyArrayAdded)
		case subset(od, nd) && subset(nd, od):
		case subset(od, nd):
			c.add(DependencyArrayExtended)
		case subset(nd, od):
			c.add(DependencyArrayNarrowed)
		default:
			c.add(DependencyArrayChanged)
		}
		c.leave(2)
	}
	for _, k := range union(sortedKeys(o.depSchemas), sortedKeys(n.depSchemas)) {
		c.enter("dependentSchemas", k)
		os, ns := o.depSchemas[k], n.depSchemas[k]
		switch {
		case ns == nil:
			c.add(DependencySchemaRemoved)
		case os == nil:
			c.add(DependencySchemaAdded)
		default:
			compare(c, os, ns)
		}
		c.leave(2)
	}
}

func compareAdditionalProperties(c *ctx, o, n *objectSpec) {
	compareAdditional(c, "additionalProperties", o.addlPermits, n.addlPermits, o.addl, n.addl, additionalPropertiesTypes)
}

// compareAdditional is Confluent's rule for additionalProperties and
// additionalItems: "ADDED"/"REMOVED" when the permission to have more members
// changes, "NARROWED"/"EXTENDED" when a schema for them appears or goes.
func compareAdditional(c *ctx, kw string, oPermits, nPermits bool, o, n *schema, t openTypes) {
	c.enter(kw)
	defer c.leave(1)
	switch {
	case oPermits != nPermits:
		if nPermits {
			c.add(t.added)
		} else {
			c.add(t.removed)
		}
	case o == nil && n != nil:
		c.add(t.narrowed)
	case o != nil && n == nil:
		c.add(t.extended)
	default:
		compare(c, o, n)
	}
}

// openTypes are the ADDED, REMOVED, EXTENDED and NARROWED difference types
// of a keyword that opens or closes a content model (additional*,
// unevaluated*).
type openTypes struct{ added, removed, extended, narrowed Type }

var (
	additionalPropertiesTypes  = openTypes{AdditionalPropertiesAdded, AdditionalPropertiesRemoved, AdditionalPropertiesExtended, AdditionalPropertiesNarrowed}
	additionalItemsTypes       = openTypes{AdditionalItemsAdded, AdditionalItemsRemoved, AdditionalItemsExtended, AdditionalItemsNarrowed}
	unevaluatedPropertiesTypes = openTypes{UnevaluatedPropertiesAdded, UnevaluatedPropertiesRemoved, UnevaluatedPropertiesExtended, UnevaluatedPropertiesNarrowed}
	unevaluatedItemsTypes      = openTypes{UnevaluatedItemsAdded, UnevaluatedItemsRemoved, UnevaluatedItemsExtended, UnevaluatedItemsNarrowed}
)

// compareUnevaluated is ArraySchemaDiff.compareUnevaluatedItems, applied to
// unevaluatedProperties too. "ADDED"/"REMOVED" speak of the permission to
// have unevaluated members (false removes it), "EXTENDED"/"NARROWED" of
// their schema. Note that absent to true counts as NARROWED, as in
// Confluent.
func compareUnevaluated(c *ctx, kw string, o, n *schema, t openTypes) {
	if o == nil && n == nil {
		return
	}
	c.enter(kw)
	defer c.leave(1)
	is := func(s *schema, k kind) bool { return s != nil && deref(s).kind == k }
	switch {
	case o == nil && is(n, kindFalse):
		c.add(t.removed)
	case o == nil:
		c.add(t.narrowed)
	case n == nil && is(o, kindFalse):
		c.add(t.added)
	case n == nil:
		c.add(t.extended)
	case is(o, kindFalse) && !is(n, kindFalse):
		c.add(t.added)
	case !is(o, kindFalse) && is(n, kindFalse):
		c.add(t.removed)
	case is(o, kindEmpty) && !is(n, kindEmpty):
		c.add(t.narrowed)
	case !is(o, kindEmpty) && is(n, kindEmpty):
		c.add(t.extended)
	default:
		compare(c, o, n)
	}
}

// union returns the sorted union of two sorted name lists.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, l := range [][]string{a, b} {
		for _, k := range l {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
