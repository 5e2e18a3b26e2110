package event

import (
	"regexp"
	"testing"
)

// The regular expressions the hand-written checks in names.go replace; they
// are the specification, and the fuzz target holds the two equal.
var (
	eventNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	serviceRE   = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	schemaRE    = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*-schema-v([0-9]+)$`)
	semverRE    = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

func checkNames(t *testing.T, s string) {
	if got, want := isEventName(s), eventNameRE.MatchString(s); got != want {
		t.Errorf("isEventName(%q) = %v, regexp says %v", s, got, want)
	}
	if got, want := isServiceName(s), serviceRE.MatchString(s); got != want {
		t.Errorf("isServiceName(%q) = %v, regexp says %v", s, got, want)
	}
	m := schemaRE.FindStringSubmatch(s)
	if major, ok := schemaMajor(s); ok != (m != nil) || (ok && major != m[2]) {
		t.Errorf("schemaMajor(%q) = %q, %v; regexp says %v", s, major, ok, m)
	}
	sm := semverRE.FindStringSubmatch(s)
	if major, ok := semverMajor(s); ok != (sm != nil) || (ok && major != sm[1]) {
		t.Errorf("semverMajor(%q) = %q, %v; regexp says %v", s, major, ok, sm)
	}
}

var nameSeeds = []string{
	"", "a", "a.b", "lead.created", "deal.stage.changed", "a..b", ".a.b", "a.b.", "A.b", "a_1.b2", "1a.b",
	"crm-service", "crm--service", "-crm", "crm-", "crm-2", "crm-lead-schema-v1", "crm-lead-schema-v",
	"crm-lead-schema-v01", "-schema-v1", "schema-v1", "a-schema-v12", "a-schema-vx", "x-schema-v1-schema-v2",
	"1.0.0", "01.0.0", "1.0", "1.0.0-rc.1", "1.0.0-rc.01", "1.0.0-0a", "1.0.0+build.7", "1.0.0-+x",
	"1.0.0-alpha..1", "1.0.0+", "1.0.0-", "10.20.30", "1.2.3-x-y.z+a-b.c", "1.2.3+01", "1.2.3-01",
}

func TestNamesMatchTheirRegexps(t *testing.T) {
	for _, s := range nameSeeds {
		checkNames(t, s)
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkNames(t, s) })
}
