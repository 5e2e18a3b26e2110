package compat

import (
	"cmp"
	"fmt"
	"slices"
)

// Direction says which way a problem breaks compatibility.
type Direction string

const (
	// DirectionBackward: the candidate cannot read data written with the
	// version (Diff(old=version, new=candidate)).
	DirectionBackward Direction = "backward"
	// DirectionForward: the version cannot read data written with the
	// candidate (Diff(old=candidate, new=version)).
	DirectionForward Direction = "forward"
)

// Problem is one incompatible difference found by Check.
type Problem struct {
	Type      Type
	Pointer   string // RFC 6901 pointer, as in Difference
	Direction Direction
	Against   int // index in the history passed to Check
}

// Result is the outcome of Check.
type Result struct {
	Compatible bool
	// Problems are sorted by Against, Direction, Pointer and Type, without
	// duplicates.
	Problems []Problem
}

// Lines renders the problems as CLI lines, "<DIFFERENCE_TYPE> <json-pointer>"
// with the root pointer shown as "", sorted and without duplicates (the
// same change found against several versions is one line).
func (r Result) Lines() []string {
	lines := make([]string, 0, len(r.Problems))
	for _, p := range r.Problems {
		lines = append(lines, line(p.Type, p.Pointer))
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// Check decides whether candidate may be registered after history (oldest
// first) at level under policy, as Confluent's registry does:
//
//   - BACKWARD: the candidate reads data of the latest version;
//   - FORWARD: the latest version reads data of the candidate;
//   - FULL: both;
//   - *_TRANSITIVE: the same against every version, not only the latest;
//   - NONE: always compatible (the candidate must still be a valid schema).
//
// An empty history is compatible at every level. Errors: a *ParseError for
// an unknown level or policy, a *SchemaError naming "candidate" or
// "history[i]" for a document that is not a schema.
func Check(level Level, policy Policy, history [][]byte, candidate []byte) (Result, error) {
	if e := level.parseError(); e != nil {
		return Result{}, e
	}
	if e := policy.parseError(); e != nil {
		return Result{}, e
	}
	cand, err := load("candidate", candidate)
	if err != nil {
		return Result{}, err
	}
	if level == None || len(history) == 0 {
		return Result{Compatible: true}, nil
	}
	first := len(history) - 1
	if level.transitive() {
		first = 0
	}
	var problems []Problem
	for i := first; i < len(history); i++ {
		name := fmt.Sprintf("history[%d]", i)
		prev, err := load(name, history[i])
		if err != nil {
			return Result{}, err
		}
		if level.backward() {
			ps, err := problemsOf(policy, prev, cand, name+" vs candidate", DirectionBackward, i)
			if err != nil {
				return Result{}, err
			}
			problems = append(problems, ps...)
		}
		if level.forward() {
			ps, err := problemsOf(policy, cand, prev, "candidate vs "+name, DirectionForward, i)
			if err != nil {
				return Result{}, err
			}
			problems = append(problems, ps...)
		}
	}
	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Against, b.Against), cmp.Compare(a.Direction, b.Direction),
			cmp.Compare(a.Pointer, b.Pointer), cmp.Compare(a.Type, b.Type))
	})
	problems = slices.Compact(problems)
	return Result{Compatible: len(problems) == 0, Problems: problems}, nil
}

// problemsOf returns the differences from o to n that policy does not
// tolerate.
func problemsOf(p Policy, o, n *schema, label string, dir Direction, against int) ([]Problem, error) {
	diffs, err := diffSchemas(p, o, n, label)
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, d := range diffs {
		if !d.Type.IsCompatible(p) {
			out = append(out, Problem{Type: d.Type, Pointer: d.Pointer, Direction: dir, Against: against})
		}
	}
	return out, nil
}
