package compat

import (
	"fmt"
	"strings"
)

// Level is a Confluent compatibility level; its values are Confluent's names.
type Level string

// The Confluent compatibility levels.
const (
	None               Level = "NONE"
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	Forward            Level = "FORWARD"
	ForwardTransitive  Level = "FORWARD_TRANSITIVE"
	Full               Level = "FULL"
	FullTransitive     Level = "FULL_TRANSITIVE"
)

var levels = []Level{None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive}

var policies = []Policy{Strict, Lenient}

// backward reports whether l checks that the candidate reads the data of
// earlier versions.
func (l Level) backward() bool {
	return l == Backward || l == BackwardTransitive || l == Full || l == FullTransitive
}

// forward reports whether l checks that earlier versions read the data of
// the candidate.
func (l Level) forward() bool {
	return l == Forward || l == ForwardTransitive || l == Full || l == FullTransitive
}

// transitive reports whether l checks against every version, not only the
// latest.
func (l Level) transitive() bool {
	return l == BackwardTransitive || l == ForwardTransitive || l == FullTransitive
}

// ParseError reports a level or policy name that is not one of Confluent's.
// Valid lists the accepted names, so a command line can print them.
type ParseError struct {
	What  string   // "compatibility level" or "compatibility policy"
	Value string   // the rejected input, as given
	Valid []string // the accepted names
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("compat: unknown %s %q: valid values are %s", e.What, e.Value, strings.Join(e.Valid, ", "))
}

// normalizeName upper-cases s and accepts '-' for '_', as the registry
// package does, so that "backward-transitive" typed on a command line works.
func normalizeName(s string) string {
	return strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "_")
}

// ParseLevel parses a compatibility level name case-insensitively. The error
// is a *ParseError.
func ParseLevel(s string) (Level, error) {
	l := Level(normalizeName(s))
	if e := l.parseError(); e != nil {
		e.Value = s
		return "", e
	}
	return l, nil
}

// ParsePolicy parses a compatibility policy name (STRICT or LENIENT)
// case-insensitively. The error is a *ParseError.
func ParsePolicy(s string) (Policy, error) {
	p := Policy(normalizeName(s))
	if e := p.parseError(); e != nil {
		e.Value = s
		return "", e
	}
	return p, nil
}

// parseError returns nil for a known level, else the *ParseError naming it.
func (l Level) parseError() *ParseError {
	for _, k := range levels {
		if l == k {
			return nil
		}
	}
	valid := make([]string, len(levels))
	for i, k := range levels {
		valid[i] = string(k)
	}
	return &ParseError{What: "compatibility level", Value: string(l), Valid: valid}
}

// parseError returns nil for a known policy, else the *ParseError naming it.
func (p Policy) parseError() *ParseError {
	if p.compatibleSet() != nil {
		return nil
	}
	valid := make([]string, len(policies))
	for i, k := range policies {
		valid[i] = string(k)
	}
	return &ParseError{What: "compatibility policy", Value: string(p), Valid: valid}
}
