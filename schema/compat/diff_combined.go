package compat

import (
	"slices"
	"strconv"
)

// compareCombined is CombinedSchemaDiff: after the criteria, every old member
// is compared with every new member, and a maximum matching of the
// compatible pairs decides. Members nobody can pair with make the change
// COMBINED_TYPE_SUBSCHEMAS_CHANGED.
func compareCombined(c *ctx, o, n *schema) {
	if changed := compareCriteria(c, o, n); changed {
		return
	}
	// Members are collapsed by their JSON, as Confluent collects them into a
	// set, so a duplicated member does not count as an extension.
	os, ns := distinct(o.subs), distinct(n.subs)
	switch {
	case len(os) < len(ns):
		if n.crit == allOf {
			c.add(ProductTypeExtended)
		} else {
			c.add(SumTypeExtended)
		}
	case len(os) > len(ns):
		if n.crit == allOf {
			c.add(ProductTypeNarrowed)
		} else {
			c.add(SumTypeNarrowed)
		}
	}

	edges := make([][]edge, len(os))
	for i, x := range os {
		// A virtual union has no "allOf"/"anyOf" of its own in the document;
		// its members live at the schema's own location.
		if !o.virtual {
			c.enter(o.crit.String(), strconv.Itoa(i))
		}
		for j, y := range ns {
			sc := c.sub()
			compare(sc, x, y)
			if sc.compatible() {
				edges[i] = append(edges[i], edge{to: j, diffs: sc.diffs})
			}
		}
		if !o.virtual {
			c.leave(2)
		}
		// Prefer the closest partner, so that an unchanged member is paired
		// with its copy and the report shows the real change elsewhere.
		slices.SortStableFunc(edges[i], func(a, b edge) int { return len(a.diffs) - len(b.diffs) })
	}
	count := 0
	for _, e := range maxMatching(len(ns), edges) {
		if e != nil {
			c.addAll(e.diffs)
			count++
		}
	}
	if count < min(len(os), len(ns)) {
		c.add(CombinedTypeSubschemasChanged)
	}
}

// compareCriteria is CombinedSchemaDiff.compareCriteria: any criterion may
// become anyOf; oneOf and allOf only accept the change from a singleton,
// where the criterion makes no difference. It reports whether the criteria
// are incompatible, which ends the comparison.
func compareCriteria(c *ctx, o, n *schema) (changed bool) {
	if o.crit == n.crit {
		return false
	}
	single := func(s *schema) bool { return len(s.subs) == 1 }
	extended := n.crit == anyOf ||
		(n.crit == oneOf && single(o)) ||
		(n.crit == allOf && single(o) && single(n))
	if extended {
		c.add(CombinedTypeExtended)
		return false
	}
	c.add(CombinedTypeChanged)
	return true
}

func distinct(subs []*schema) []*schema {
	seen := map[string]bool{}
	out := make([]*schema, 0, len(subs))
	for _, s := range subs {
		if !seen[s.canon] {
			seen[s.canon] = true
			out = append(out, s)
		}
	}
	return out
}

// edge is a compatible pairing of an old member with new member to.
type edge struct {
	to    int
	diffs []diff
}

// maxMatching returns, for each old member, the edge it is matched along in
// a maximum-cardinality matching (nil if unmatched). Kuhn's augmenting paths
// suffice: unions have a handful of members.
func maxMatching(right int, adj [][]edge) []*edge {
	owner := make([]int, right) // new member -> old member, -1 if free
	for i := range owner {
		owner[i] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, e := range adj[i] {
			if seen[e.to] {
				continue
			}
			seen[e.to] = true
			if owner[e.to] < 0 || try(owner[e.to], seen) {
				owner[e.to] = i
				return true
			}
		}
		return false
	}
	for i := range adj {
		try(i, make([]bool, right))
	}
	matched := make([]*edge, len(adj))
	for j, i := range owner {
		if i < 0 {
			continue
		}
		for k := range adj[i] {
			if adj[i][k].to == j {
				matched[i] = &adj[i][k]
				break
			}
		}
	}
	return matched
}
