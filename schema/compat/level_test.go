package compat

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{
		"NONE": None, "backward": Backward, " Backward_Transitive ": BackwardTransitive,
		"forward": Forward, "forward-transitive": ForwardTransitive, "Full": Full, "full_transitive": FullTransitive,
	} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseLevel("bakward")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
	if pe.Value != "bakward" || !slices.Contains(pe.Valid, "BACKWARD_TRANSITIVE") || len(pe.Valid) != 7 {
		t.Errorf("ParseError = %+v", pe)
	}
	for _, s := range []string{`"bakward"`, "NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %s", err, s)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"strict": Strict, "LENIENT": Lenient, " Lenient ": Lenient} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParsePolicy("loose")
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `"loose"`) || !strings.Contains(err.Error(), "STRICT, LENIENT") {
		t.Errorf("err = %v", err)
	}
}

// TestPolicies pins the classification of every type: Lenient is Strict plus
// exactly the listed content-model relaxations, and the rules the spec
// relies on hold.
func TestPolicies(t *testing.T) {
	lenientOnly := []Type{
		AdditionalPropertiesNarrowed, AdditionalPropertiesRemoved,
		UnevaluatedPropertiesNarrowed, UnevaluatedPropertiesRemoved,
		PropertyAddedToOpenContentModel, OptionalPropertyAddedToOpenContentModel,
		RequiredPropertyWithDefaultAddedToOpenContentModel,
		PropertyAddedNotCoveredByPartiallyOpenContentModel,
		PropertyRemovedNotCoveredByPartiallyOpenContentModel,
	}
	for typ, name := range declaredTypeValues(t) {
		strict, lenient := typ.IsCompatible(Strict), typ.IsCompatible(Lenient)
		if strict && !lenient {
			t.Errorf("%s is compatible under Strict but not Lenient", name)
		}
		if want := slices.Contains(lenientOnly, typ); (lenient && !strict) != want {
			t.Errorf("%s: Lenient-only = %v, want %v", name, lenient && !strict, want)
		}
	}
	for _, tc := range []struct {
		typ             Type
		strict, lenient bool
	}{
		{OptionalPropertyAddedToOpenContentModel, false, true},
		{RequiredPropertyAddedToOpenContentModel, false, false},
		{RequiredAttributeAdded, false, false},
		{RequiredAttributeWithDefaultAdded, true, true},
		{EnumArrayNarrowed, false, false},
		{EnumArrayExtended, true, true},
		{OptionalPropertyAddedToUnopenContentModel, true, true},
		{PropertyRemovedFromClosedContentModel, false, false},
		{PropertyRemovedFromOpenContentModel, true, true},
		{MaxContainsIncreased, false, false}, // in no compatible set Confluent publishes
		{"NO_SUCH_TYPE", false, false},
	} {
		if got := tc.typ.IsCompatible(Strict); got != tc.strict {
			t.Errorf("%s under Strict = %v, want %v", tc.typ, got, tc.strict)
		}
		if got := tc.typ.IsCompatible(Lenient); got != tc.lenient {
			t.Errorf("%s under Lenient = %v, want %v", tc.typ, got, tc.lenient)
		}
	}
	if TypeExtended.IsCompatible("") {
		t.Error("a type is compatible under an unknown policy")
	}
}
