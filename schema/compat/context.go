package compat

import (
	"fmt"
	"slices"
)

// maxCompareDepth bounds the nesting of comparisons. Cycles through $ref end
// by themselves (see compare); this only stops pathological documents, such
// as a long chain of distinct unions, before they exhaust the stack.
const maxCompareDepth = 1024

// maxDifferences bounds the differences one comparison may record, counting
// the copies made when a memoized result is reused at another location. A
// real schema change yields a handful; the bound stops a document whose
// $ref reuse multiplies them from exhausting memory.
const maxDifferences = 100_000

// diff is a difference whose path is kept as segments so that it can be
// rebased when a memoized comparison is reused at another location.
type diff struct {
	t    Type
	segs []string
}

type pair struct{ old, new *schema }

// state is shared by a comparison and all its sub-comparisons, like the memo
// and in-progress set of Confluent's Context.
type state struct {
	compatible map[Type]bool // the policy: decides which sub-results count as compatible
	memo       map[pair][]diff
	inProgress map[pair]bool
	depth      int
	recorded   int    // differences recorded so far, see maxDifferences
	label      string // names the two documents in errors
	err        error
}

// ctx is Confluent's Context: the current path and the differences found
// under it. A sub-context starts at the same path with no differences, so a
// caller can look at a tentative comparison before adopting its findings.
type ctx struct {
	st    *state
	path  []string
	diffs []diff
}

func newState(p Policy, label string) *state {
	return &state{
		compatible: p.compatibleSet(),
		memo:       map[pair][]diff{},
		inProgress: map[pair]bool{},
		label:      label,
	}
}

func (c *ctx) sub() *ctx { return &ctx{st: c.st, path: slices.Clone(c.path)} }

func (c *ctx) enter(segs ...string) { c.path = append(c.path, segs...) }

func (c *ctx) leave(n int) { c.path = c.path[:len(c.path)-n] }

func (c *ctx) add(t Type) {
	if c.count(1) {
		c.diffs = append(c.diffs, diff{t: t, segs: slices.Clone(c.path)})
	}
}

// count accounts for n more differences and reports whether they fit under
// maxDifferences; past it the comparison fails with ErrTooComplex.
func (c *ctx) count(n int) bool {
	c.st.recorded += n
	if c.st.recorded <= maxDifferences {
		return true
	}
	if c.st.err == nil {
		c.st.err = &SchemaError{Document: c.st.label, Pointer: pointer(c.path), Err: ErrTooComplex,
			Detail: fmt.Sprintf("more than %d differences", maxDifferences)}
	}
	return false
}

// addAt records t at the child seg of the current path, as Confluent's
// addDifference(attribute, type) does for keywords like "maxLength".
func (c *ctx) addAt(seg string, t Type) {
	c.enter(seg)
	c.add(t)
	c.leave(1)
}

func (c *ctx) addAll(ds []diff) {
	if c.count(len(ds)) {
		c.diffs = append(c.diffs, ds...)
	}
}

// addRebased adopts differences computed relative to a nested pair.
func (c *ctx) addRebased(ds []diff) {
	if !c.count(len(ds)) {
		return
	}
	for _, d := range ds {
		c.diffs = append(c.diffs, diff{t: d.t, segs: append(slices.Clone(c.path), d.segs...)})
	}
}

// compatible reports whether every difference found so far is tolerated by
// the policy (Confluent's Context.isCompatible).
func (c *ctx) compatible() bool {
	for _, d := range c.diffs {
		if !c.st.compatible[d.t] {
			return false
		}
	}
	return true
}

func (c *ctx) failed() bool { return c.st.err != nil }
