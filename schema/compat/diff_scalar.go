package compat

import "math/big"

// bound compares an optional numeric keyword the way each of Confluent's
// StringSchemaDiff, NumberSchemaDiff, ObjectSchemaDiff and ArraySchemaDiff
// does, reporting at the keyword.
func bound(c *ctx, kw string, o, n *big.Rat, added, removed, increased, decreased Type) {
	switch {
	case o == nil && n == nil:
	case o == nil:
		c.addAt(kw, added)
	case n == nil:
		c.addAt(kw, removed)
	case o.Cmp(n) < 0:
		c.addAt(kw, increased)
	case o.Cmp(n) > 0:
		c.addAt(kw, decreased)
	}
}

// compareString is StringSchemaDiff. "format" is deliberately not compared:
// Confluent has no difference type for it (formats are annotations unless a
// validator opts in).
func compareString(c *ctx, o, n *stringSpec) {
	bound(c, "maxLength", o.maxLength, n.maxLength, MaxLengthAdded, MaxLengthRemoved, MaxLengthIncreased, MaxLengthDecreased)
	bound(c, "minLength", o.minLength, n.minLength, MinLengthAdded, MinLengthRemoved, MinLengthIncreased, MinLengthDecreased)
	switch {
	case o.pattern == nil && n.pattern != nil:
		c.addAt("pattern", PatternAdded)
	case o.pattern != nil && n.pattern == nil:
		c.addAt("pattern", PatternRemoved)
	case o.pattern != nil && *o.pattern != *n.pattern:
		// Patterns are compared as text: deciding whether one regular
		// language contains another is not something Confluent attempts.
		c.addAt("pattern", PatternChanged)
	}
}

// compareNumber is NumberSchemaDiff.
func compareNumber(c *ctx, o, n *numberSpec) {
	bound(c, "maximum", o.maximum, n.maximum, MaximumAdded, MaximumRemoved, MaximumIncreased, MaximumDecreased)
	bound(c, "minimum", o.minimum, n.minimum, MinimumAdded, MinimumRemoved, MinimumIncreased, MinimumDecreased)
	bound(c, "exclusiveMaximum", o.exclMax, n.exclMax,
		ExclusiveMaximumAdded, ExclusiveMaximumRemoved, ExclusiveMaximumIncreased, ExclusiveMaximumDecreased)
	bound(c, "exclusiveMinimum", o.exclMin, n.exclMin,
		ExclusiveMinimumAdded, ExclusiveMinimumRemoved, ExclusiveMinimumIncreased, ExclusiveMinimumDecreased)
	compareMultipleOf(c, o.multipleOf, n.multipleOf)
	switch {
	case o.integer && !n.integer:
		c.add(TypeExtended)
	case !o.integer && n.integer:
		c.add(TypeNarrowed)
	}
}

// compareMultipleOf classifies like Confluent: if the new factor is a
// multiple of the old one, fewer values pass (EXPANDED, incompatible); if it
// divides the old one, more pass (REDUCED, compatible). Confluent tests
// divisibility on the integer parts, which breaks for fractional factors;
// exact rationals give the answer it intends.
func compareMultipleOf(c *ctx, o, n *big.Rat) {
	switch {
	case o == nil && n == nil:
	case o == nil:
		c.addAt("multipleOf", MultipleOfAdded)
	case n == nil:
		c.addAt("multipleOf", MultipleOfRemoved)
	case o.Cmp(n) == 0:
	case new(big.Rat).Quo(n, o).IsInt():
		c.addAt("multipleOf", MultipleOfExpanded)
	case new(big.Rat).Quo(o, n).IsInt():
		c.addAt("multipleOf", MultipleOfReduced)
	default:
		c.addAt("multipleOf", MultipleOfChanged)
	}
}

// compareEnum is EnumSchemaDiff: enum values are compared as sets.
func compareEnum(c *ctx, o, n *schema) {
	oldInNew, newInOld := subset(o.enum, n.enum), subset(n.enum, o.enum)
	switch {
	case oldInNew && newInOld:
	case oldInNew:
		c.addAt("enum", EnumArrayExtended)
	case newInOld:
		c.addAt("enum", EnumArrayNarrowed)
	default:
		c.addAt("enum", EnumArrayChanged)
	}
}

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// compareNot is NotSchemaDiff: "not" inverts the direction, so the new
// negated schema must accept everything the old one did. Unlike Confluent we
// report nothing when the two negated schemas do not differ at all, so that
// identical schemas have no differences.
func compareNot(c *ctx, o, n *schema) {
	c.enter("not")
	defer c.leave(1)
	sc := c.sub()
	compare(sc, n.not, o.not)
	switch {
	case len(sc.diffs) == 0:
	case sc.compatible():
		c.add(NotTypeNarrowed)
	default:
		c.add(NotTypeExtended)
	}
}
