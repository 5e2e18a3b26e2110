package compat

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	openV1 = `{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}`
	// openV1 plus an optional property: the spec's versioning rule.
	openOptional = `{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}, "required": ["id"]}`
	openRequired = `{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}, "required": ["id", "note"]}`
	closedV1     = `{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"], "additionalProperties": false}`
	closedOpt    = `{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}, "required": ["id"], "additionalProperties": false}`
	statusABC    = `{"type": "object", "properties": {"status": {"enum": ["A", "B", "C"]}}}`
	statusAB     = `{"type": "object", "properties": {"status": {"enum": ["A", "B"]}}}`
)

func docs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		level      Level
		policy     Policy
		history    []string
		candidate  string
		compatible bool
		problems   []Problem
	}{
		{
			name: "optional property added to an open object is incompatible under STRICT", level: Backward, policy: Strict,
			history: []string{openV1}, candidate: openOptional,
			problems: []Problem{{OptionalPropertyAddedToOpenContentModel, "/properties/note", DirectionBackward, 0}},
		},
		{
			name: "optional property added to an open object is compatible under LENIENT", level: Backward, policy: Lenient,
			history: []string{openV1}, candidate: openOptional, compatible: true,
		},
		{
			name: "required property added is incompatible under STRICT", level: Backward, policy: Strict,
			history: []string{openV1}, candidate: openRequired,
			problems: []Problem{{RequiredPropertyAddedToOpenContentModel, "/properties/note", DirectionBackward, 0}},
		},
		{
			name: "required property added is incompatible under LENIENT too", level: Backward, policy: Lenient,
			history: []string{openV1}, candidate: openRequired,
			problems: []Problem{{RequiredPropertyAddedToOpenContentModel, "/properties/note", DirectionBackward, 0}},
		},
		{
			name: "optional property added to a closed object is BACKWARD compatible", level: Backward, policy: Strict,
			history: []string{closedV1}, candidate: closedOpt, compatible: true,
		},
		{
			name: "but not FORWARD: the old closed schema rejects the new property", level: Forward, policy: Strict,
			history: []string{closedV1}, candidate: closedOpt,
			problems: []Problem{{PropertyRemovedFromClosedContentModel, "/properties/note", DirectionForward, 0}},
		},
		{
			name: "narrowing an enum is BACKWARD incompatible", level: Backward, policy: Strict,
			history: []string{statusABC}, candidate: statusAB,
			problems: []Problem{{EnumArrayNarrowed, "/properties/status/enum", DirectionBackward, 0}},
		},
		{
			name: "narrowing an enum is FORWARD compatible", level: Forward, policy: Strict,
			history: []string{statusABC}, candidate: statusAB, compatible: true,
		},
		{
			name: "FULL checks both directions", level: Full, policy: Lenient,
			history: []string{statusAB}, candidate: statusABC,
			problems: []Problem{{EnumArrayNarrowed, "/properties/status/enum", DirectionForward, 0}},
		},
		{
			name: "BACKWARD only looks at the latest version", level: Backward, policy: Strict,
			history: []string{nullableNote, requiredNote}, candidate: requiredNote, compatible: true,
		},
		{
			name: "BACKWARD_TRANSITIVE catches a problem against an older version", level: BackwardTransitive, policy: Strict,
			history: []string{nullableNote, requiredNote}, candidate: requiredNote,
			problems: []Problem{{TypeChanged, "/properties/note", DirectionBackward, 0}},
		},
		{
			name: "FORWARD_TRANSITIVE checks every version", level: ForwardTransitive, policy: Strict,
			history: []string{statusAB, statusAB}, candidate: statusABC,
			problems: []Problem{
				{EnumArrayNarrowed, "/properties/status/enum", DirectionForward, 0},
				{EnumArrayNarrowed, "/properties/status/enum", DirectionForward, 1},
			},
		},
		{
			name: "FULL_TRANSITIVE checks both directions against every version", level: FullTransitive, policy: Strict,
			history: []string{statusABC, statusAB}, candidate: statusAB,
			problems: []Problem{{EnumArrayNarrowed, "/properties/status/enum", DirectionBackward, 0}},
		},
		{
			name: "NONE accepts anything", level: None, policy: Strict,
			history: []string{`{"type": "string"}`}, candidate: `{"type": "integer"}`, compatible: true,
		},
		{
			name: "an empty history is compatible", level: FullTransitive, policy: Strict,
			candidate: openV1, compatible: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Check(tt.level, tt.policy, docs(tt.history...), []byte(tt.candidate))
			if err != nil {
				t.Fatal(err)
			}
			if res.Compatible != tt.compatible {
				t.Errorf("Compatible = %v, want %v", res.Compatible, tt.compatible)
			}
			if !slices.Equal(res.Problems, tt.problems) {
				t.Errorf("Problems\n got %+v\nwant %+v", res.Problems, tt.problems)
			}
		})
	}
}

// A field was nullable in v1 and made non-null in v2 while the subject was
// at NONE: the candidate equals v2, so only a transitive check notices that
// it cannot read v1's nulls.
const (
	nullableNote = `{"type": "object", "properties": {"note": {"type": ["string", "null"]}}}`
	requiredNote = `{"type": "object", "properties": {"note": {"type": "string"}}}`
)

func TestResultLines(t *testing.T) {
	res, err := Check(FullTransitive, Strict, docs(statusABC, statusABC, openV1), []byte(statusAB))
	if err != nil {
		t.Fatal(err)
	}
	// The enum narrowing is found against versions 0 and 1 but printed
	// once. Against version 2 each direction adds a property to an open
	// object; the removals it also reports are compatible and not printed.
	want := []string{
		"ENUM_ARRAY_NARROWED /properties/status/enum",
		"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /properties/status",
		"REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /properties/id",
	}
	if got := res.Lines(); !slices.Equal(got, want) {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
	if len(res.Problems) != 4 {
		t.Errorf("%d problems, want 4: %+v", len(res.Problems), res.Problems)
	}
	if res.Compatible {
		t.Error("Compatible = true")
	}
	root := Result{Problems: []Problem{{Type: TypeChanged}, {Type: TypeChanged, Against: 1}}}
	if got := root.Lines(); !slices.Equal(got, []string{`TYPE_CHANGED ""`}) {
		t.Errorf("root Lines() = %q", got)
	}
}

func TestCheckErrors(t *testing.T) {
	bad := `{"type": 5}`
	tests := []struct {
		name      string
		level     Level
		policy    Policy
		history   []string
		candidate string
		doc       string // want SchemaError.Document
		parse     bool   // want *ParseError
	}{
		{name: "bad candidate", level: Backward, policy: Strict, history: []string{openV1}, candidate: bad, doc: "candidate"},
		{name: "bad candidate at NONE", level: None, policy: Strict, candidate: "{", doc: "candidate"},
		{name: "bad latest", level: Backward, policy: Strict, history: []string{openV1, bad}, candidate: openV1, doc: "history[1]"},
		{name: "bad older version is ignored without transitivity", level: Backward, policy: Strict, history: []string{bad, openV1}, candidate: openV1},
		{name: "bad older version, transitive", level: ForwardTransitive, policy: Strict, history: []string{bad, openV1}, candidate: openV1, doc: "history[0]"},
		{name: "unknown level", level: "SIDEWAYS", policy: Strict, candidate: openV1, parse: true},
		{name: "unknown policy", level: Backward, policy: "", candidate: openV1, parse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(tt.level, tt.policy, docs(tt.history...), []byte(tt.candidate))
			var se *SchemaError
			var pe *ParseError
			switch {
			case tt.parse:
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
			case tt.doc == "":
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			default:
				if !errors.As(err, &se) || se.Document != tt.doc {
					t.Fatalf("err = %v, want a *SchemaError for %s", err, tt.doc)
				}
				if !strings.Contains(err.Error(), tt.doc) {
					t.Errorf("message %q does not name %s", err, tt.doc)
				}
			}
		})
	}
}
