package registry

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
)

// TestLocalRefusesIDCollision forces two versions onto one id; a real
// collision needs tens of thousands of schemas to become likely.
func TestLocalRefusesIDCollision(t *testing.T) {
	schema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["tenant_id"],"properties":{"tenant_id":{"type":"string"}}}`
	fsys := fstest.MapFS{
		"catalog.yaml": {Data: []byte(catalogtest.Header + `  - {name: a.one, category: crm, description: d, source: s, consumers: [c], schema: a-one-schema-v1, versions: [1.0.0], ordering: strict, ordering_why: w}
  - {name: a.two, category: crm, description: d, source: s, consumers: [c], schema: a-two-schema-v1, versions: [1.0.0], ordering: strict, ordering_why: w}
`)},
		"schemas/a.one/v1.0.0.json": {Data: []byte(schema)},
		"schemas/a.two/v1.0.0.json": {Data: []byte(schema)},
	}
	cat, err := catalog.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newLocal(cat, StableID); err != nil {
		t.Fatalf("distinct ids: %v", err)
	}
	_, err = newLocal(cat, func(string, string) int { return 42 })
	if err == nil || !strings.Contains(err.Error(), "42") || !strings.Contains(err.Error(), "a.one-value") || !strings.Contains(err.Error(), "a.two-value") {
		t.Fatalf("err = %v, want a collision naming id 42 and both subjects", err)
	}
}
