package compat

import "strconv"

// compareArray is ArraySchemaDiff, in its order. Confluent reports
// positional items at "items/<i>" and the schema after them at
// "additionalItems"; we use the draft 2020-12 keywords those are now spelled
// with, "prefixItems/<i>" and "items".
func compareArray(c *ctx, o, n *arraySpec) {
	c.enter("items")
	compare(c, o.allItems, n.allItems)
	c.leave(1)
	comparePrefixItems(c, o, n)
	compareAdditionalItems(c, o, n)
	compareUnevaluated(c, "unevaluatedItems", o.uneval, n.uneval, unevaluatedItemsTypes)
	bound(c, "maxItems", o.maxItems, n.maxItems, MaxItemsAdded, MaxItemsRemoved, MaxItemsIncreased, MaxItemsDecreased)
	bound(c, "minItems", o.minItems, n.minItems, MinItemsAdded, MinItemsRemoved, MinItemsIncreased, MinItemsDecreased)
	if o.uniqueItems != n.uniqueItems {
		if o.uniqueItems {
			c.addAt("uniqueItems", UniqueItemsRemoved)
		} else {
			c.addAt("uniqueItems", UniqueItemsAdded)
		}
	}
	bound(c, "maxContains", o.maxContains, n.maxContains, MaxContainsAdded, MaxContainsRemoved, MaxContainsIncreased, MaxContainsDecreased)
	bound(c, "minContains", o.minContains, n.minContains, MinContainsAdded, MinContainsRemoved, MinContainsIncreased, MinContainsDecreased)
}

// comparePrefixItems is ArraySchemaDiff.compareItemSchemaArray: common
// positions are compared; positions only one side has are judged by the
// content model of the other side, as properties are.
func comparePrefixItems(c *ctx, o, n *arraySpec) {
	for i := 0; i < max(len(o.prefix), len(n.prefix)); i++ {
		c.enter("prefixItems", strconv.Itoa(i))
		switch {
		case i < len(o.prefix) && i < len(n.prefix):
			compare(c, o.prefix[i], n.prefix[i])
		case i < len(o.prefix):
			itemRemoved(c, o.prefix[i], n)
		default:
			itemAdded(c, n.prefix[i], o)
		}
		c.leave(2)
	}
}

// itemRemoved: old data may have a value at this position, so the new
// schema's model for trailing items must accept it.
func itemRemoved(c *ctx, op *schema, n *arraySpec) {
	if isOpenArray(n) {
		c.add(ItemRemovedFromOpenContentModel)
		return
	}
	if partial := partialArraySchema(n); partial != nil {
		sc := c.sub()
		compare(sc, op, partial)
		c.addAll(sc.diffs)
		if sc.compatible() {
			c.add(ItemRemovedIsCoveredByPartiallyOpenContentModel)
		} else {
			c.add(ItemRemovedNotCoveredByPartiallyOpenContentModel)
		}
		return
	}
	if deref(op).kind == kindFalse {
		c.add(ItemWithFalseRemovedFromClosedContentModel)
	} else {
		c.add(ItemRemovedFromClosedContentModel)
	}
}

// itemAdded: if the old model allowed trailing items, old data may have a
// value at this position that the new item schema rejects.
func itemAdded(c *ctx, np *schema, o *arraySpec) {
	if isOpenArray(o) {
		if deref(np).kind == kindEmpty {
			c.add(ItemWithEmptySchemaAddedToOpenContentModel)
		} else {
			c.add(ItemAddedToOpenContentModel)
		}
		return
	}
	if partial := partialArraySchema(o); partial != nil {
		sc := c.sub()
		compare(sc, partial, np)
		c.addAll(sc.diffs)
		if sc.compatible() {
			c.add(ItemAddedIsCoveredByPartiallyOpenContentModel)
		} else {
			c.add(ItemAddedNotCoveredByPartiallyOpenContentModel)
		}
		return
	}
	c.add(ItemAddedToClosedContentModel)
}

// compareAdditionalItems reports at "items", the 2020-12 keyword for what
// everit calls additionalItems.
func compareAdditionalItems(c *ctx, o, n *arraySpec) {
	compareAdditional(c, "items", o.addlPermits, n.addlPermits, o.addl, n.addl, additionalItemsTypes)
}

// isOpenArray: items after the positional ones are accepted with any value.
func isOpenArray(sp *arraySpec) bool {
	return sp.addlPermits && sp.addl == nil &&
		(sp.uneval == nil || deref(sp.uneval).kind == kindEmpty)
}

// partialArraySchema returns the schema trailing items must match in a
// partially open model, or nil if the model is closed.
func partialArraySchema(sp *arraySpec) *schema {
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
