package schema_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/compat"
)

// The shipped catalog passes the gate under our default policy; under
// Confluent's STRICT default, customer.synced 1.1.0 (an optional field added
// to an open model) would not — the reason Spine defaults to LENIENT.
func TestGateOnShippedCatalog(t *testing.T) {
	cat := catalog.MustDefault()
	r, err := schema.CheckCatalog(cat, compat.Lenient)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Violations) != 0 {
		t.Fatalf("the shipped catalog fails the gate: %v", r.Violations)
	}
	strict, err := schema.CheckCatalog(cat, compat.Strict)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range strict.Violations {
		if f.Event == "customer.synced" && f.Type == compat.Type("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL") {
			found = true
		}
	}
	if !found {
		t.Errorf("STRICT did not flag customer.synced 1.1.0: %v", strict.Violations)
	}
}

const gateYAML = catalogtest.Header + `  - name: lead.created
    category: crm
    description: d
    source: crm-service
    schema: crm-lead-schema-v1
    versions: [1.0.0, 1.1.0, 1.2.0]
    ordering: non-blocking
    ordering_why: w
`

func gateSchema(extra string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "required": ["tenant_id"], "properties": {"tenant_id": {"type": "string"}` + extra + `}}`)}
}

func TestGateFindsViolations(t *testing.T) {
	const str, integer = `{"type": "string"}`, `{"type": "integer"}`
	tests := []struct {
		name          string
		v10, v11, v12 string // extra properties of each version
		required12    bool   // 1.2.0 requires "b"
		violations    []string
	}{
		{name: "optional fields added", v10: ``, v11: `, "a": ` + str, v12: `, "a": ` + str + `, "b": ` + integer},
		{name: "required field added", v10: ``, v11: `, "a": ` + str, v12: `, "a": ` + str + `, "b": ` + integer, required12: true,
			violations: []string{
				"1.2.0 1.1.0 REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /properties/b",
				"1.2.0 1.0.0 REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /properties/b",
			}},
		{name: "type changed in the latest", v10: `, "a": ` + str, v11: `, "a": ` + str, v12: `, "a": ` + integer,
			violations: []string{"1.2.0 1.1.0 TYPE_CHANGED /properties/a", "1.2.0 1.0.0 TYPE_CHANGED /properties/a"}},
		// Removing "a" and adding it back with another type is compatible
		// step by step, and breaks only readers of 1.0.0: what _TRANSITIVE
		// is for.
		{name: "transitive only", v10: `, "a": ` + str, v11: ``, v12: `, "a": ` + integer,
			violations: []string{"1.2.0 1.0.0 TYPE_CHANGED /properties/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v12 := gateSchema(tt.v12)
			if tt.required12 {
				v12.Data = []byte(strings.Replace(string(v12.Data), `["tenant_id"]`, `["tenant_id", "b"]`, 1))
			}
			fsys := fstest.MapFS{
				"catalog.yaml":                     {Data: []byte(gateYAML)},
				"schemas/lead.created/v1.0.0.json": gateSchema(tt.v10),
				"schemas/lead.created/v1.1.0.json": gateSchema(tt.v11),
				"schemas/lead.created/v1.2.0.json": v12,
			}
			cat, err := catalog.Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			r, err := schema.CheckCatalog(cat, compat.Lenient)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Violations {
				got = append(got, f.Version+" "+f.Against+" "+string(f.Type)+" "+f.Pointer)
			}
			slices.Sort(got)
			want := slices.Clone(tt.violations)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got %q\nwant %q", got, want)
			}
		})
	}
}
