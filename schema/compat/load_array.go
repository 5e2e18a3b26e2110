package compat

import (
	"fmt"
	"math/big"
)

// arraySpec reads the keywords of the array type into everit's model (see
// arraySpec's type), accepting draft-07 tuples ("items" as an array with
// "additionalItems") as well as draft 2020-12 "prefixItems".
func (l *loader) arraySpec(m map[string]any, ptr string) (*arraySpec, error) {
	sp := &arraySpec{addlPermits: true}
	var err error
	prefixKey, addlKey := "prefixItems", "items"
	if _, ok := m["prefixItems"]; !ok {
		if _, tuple := m["items"].([]any); tuple {
			prefixKey, addlKey = "items", "additionalItems" // draft-07 tuple
		}
	}
	if v, ok := m[prefixKey]; ok {
		list, ok := v.([]any)
		if !ok {
			return nil, l.fail(child(ptr, prefixKey), ErrNotSchema, "%q must be an array of schemas", prefixKey)
		}
		for i, e := range list {
			s, err := l.node(e, child(child(ptr, prefixKey), fmt.Sprint(i)))
			if err != nil {
				return nil, err
			}
			sp.prefix = append(sp.prefix, s)
		}
		if sp.addlPermits, sp.addl, err = l.boolOrSchema(m, addlKey, ptr); err != nil {
			return nil, err
		}
	} else if v, ok := m["items"]; ok {
		if b, isBool := v.(bool); isBool {
			sp.addlPermits = b
		} else if sp.allItems, err = l.node(v, child(ptr, "items")); err != nil {
			return nil, err
		}
	}
	if sp.uneval, err = l.optionalNode(m, "unevaluatedItems", ptr); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		key string
		dst **big.Rat
	}{{"minItems", &sp.minItems}, {"maxItems", &sp.maxItems}, {"minContains", &sp.minContains}, {"maxContains", &sp.maxContains}} {
		if *k.dst, err = l.count(m, k.key, ptr); err != nil {
			return nil, err
		}
	}
	if v, ok := m["uniqueItems"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, l.fail(child(ptr, "uniqueItems"), ErrNotSchema, "\"uniqueItems\" must be a boolean, not %s", jsonKind(v))
		}
		sp.uniqueItems = b
	}
	return sp, nil
}
