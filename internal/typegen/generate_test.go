package typegen_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
	"github.com/inopsio/spine/internal/typegen"
)

// richSchema uses every construct of the subset.
const richSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://schemas.inopsio.com/events/deal.won/v1.1.0.json",
  "title": "DealWon", "description": "A deal was won.",
  "type": "object",
  "required": ["tenant_id", "deal_id", "amount", "seats", "won_at", "stage", "owner", "tags"],
  "properties": {
    "tenant_id": {"type": "string", "format": "uuid"},
    "deal_id": {"type": "string", "pattern": "^D-[0-9]+$", "minLength": 3, "maxLength": 32},
    "amount": {"type": "number", "exclusiveMinimum": 0, "examples": [12.5]},
    "discount": {"type": "number", "minimum": 0, "maximum": 1},
    "seats": {"type": "integer", "minimum": 1},
    "renewals": {"type": "integer"},
    "auto_renew": {"type": "boolean", "default": true},
    "won_at": {"type": "string", "format": "date-time"},
    "closes_at": {"type": "string", "format": "date-time"},
    "stage": {"type": "string", "enum": ["CLOSED_WON", "v2-beta", "2FA"]},
    "priority": {"type": "string", "enum": ["LOW", "HIGH"]},
    "owner": {"type": "object", "required": ["email"], "properties": {
      "email": {"type": "string", "format": "email", "confluent:tags": ["PII"]},
      "ip_address": {"type": "string", "confluent:tags": ["PII"]}
    }},
    "partner": {"type": "object", "properties": {"url": {"type": "string"}}},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 0, "maxItems": 10},
    "channels": {"type": "array", "items": {"type": "string", "enum": ["WEB", "API"]}},
    "line_items": {"type": "array", "items": {"type": "object", "required": ["sku"], "properties": {
      "sku": {"type": "string"},
      "kind": {"type": "string", "enum": ["GOODS", "SERVICE"]},
      "shipped_at": {"type": "string", "format": "date-time"}
    }}}
  }
}`

const simpleSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "%s", "type": "object", "required": ["tenant_id"],
  "properties": {"tenant_id": {"type": "string", "format": "uuid"}}
}`

// testCatalog builds a catalog whose events (name → schema) are in the
// category of the first word of their name.
func testCatalog(t *testing.T, schemas [][2]string) *catalog.Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	yaml := catalogtest.Header
	for _, s := range schemas {
		name, schema := s[0], s[1]
		cat := strings.Split(name, ".")[0]
		yaml += fmt.Sprintf(`  - {name: %s, category: %s, description: d, source: svc, consumers: [svc],
     schema: %s-schema-v1, versions: [1.0.0], ordering: strict, ordering_why: w}
`, name, cat, strings.ReplaceAll(name, ".", "-"))
		fsys["schemas/"+name+"/v1.0.0.json"] = &fstest.MapFile{Data: []byte(schema)}
	}
	fsys["catalog.yaml"] = &fstest.MapFile{Data: []byte(yaml)}
	c, err := catalog.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerateCompiles(t *testing.T) {
	cat := testCatalog(t, [][2]string{
		{"crm.deal.won", richSchema},
		{"crm.deal.lost", fmt.Sprintf(simpleSchema, "DealLost")},
		{"erp.order.placed", fmt.Sprintf(simpleSchema, "OrderPlaced")},
	})
	files, err := typegen.Generate(cat)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range typegen.Categories {
		want = append(want, typegen.FilePath(c))
	}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("files %q, want %q", got, want)
	}
	again, err := typegen.Generate(cat)
	if err != nil || !maps.EqualFunc(files, again, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Error("two runs on the same catalog differ")
	}

	imp := payloadImporter(t)
	for name, src := range files {
		if !strings.HasPrefix(string(src), typegen.Header+"\n") {
			t.Errorf("%s lacks the generated-code header", name)
		}
		pkg := typeCheck(t, name, src, imp)
		if name == "crm/crm_gen.go" {
			checkCRM(t, pkg, string(src))
		}
	}
}

// checkCRM spot-checks the richest file; the type-checker has already
// proved it compiles and satisfies payload.Payload.
func checkCRM(t *testing.T, pkg *types.Package, src string) {
	t.Helper()
	for _, name := range []string{"DealWon", "DealWonStage", "DealWonStageClosedWon", "DealWonStageV2Beta",
		"DealWonStage2Fa", "DealWonPriority", "DealWonOwner", "DealWonPartner", "DealWonChannel",
		"DealWonLineItem", "DealWonLineItemKind", "DealLost", "New"} {
		if pkg.Scope().Lookup(name) == nil {
			t.Errorf("crm lacks %s", name)
		}
	}
	for _, line := range []string{
		"\tTenantID string `json:\"tenant_id\"`",
		"\tDiscount *float64 `json:\"discount,omitempty\"`",
		"\tSeats int64 `json:\"seats\"`",
		"\tRenewals *int64 `json:\"renewals,omitempty\"`",
		"\tAutoRenew *bool `json:\"auto_renew,omitempty\"`",
		"\tWonAt time.Time `json:\"won_at\"`",
		"\tClosesAt *time.Time `json:\"closes_at,omitempty\"`",
		"\tStage DealWonStage `json:\"stage\"`",
		"\tPriority *DealWonPriority `json:\"priority,omitempty\"`",
		"\tOwner DealWonOwner `json:\"owner\"`",
		"\tPartner *DealWonPartner `json:\"partner,omitempty\"`",
		"\tTags []string `json:\"tags\"`",
		"\tChannels []DealWonChannel `json:\"channels,omitempty\"`",
		"\tLineItems []DealWonLineItem `json:\"line_items,omitempty\"`",
		"\tIPAddress *string `json:\"ip_address,omitempty\"`",
		"\tURL *string `json:\"url,omitempty\"`",
		"\t// PII: tagged so in the schema (confluent:tags).\n\tEmail string `json:\"email\"`",
		`func (DealWon) EventName() string { return "crm.deal.won" }`,
		`func (DealWon) SchemaVersion() string { return "1.0.0" }`,
		"var _ payload.Payload = DealWon{}",
		`case "crm.deal.won":` + "\n\t\treturn new(DealWon), true",
	} {
		if !strings.Contains(strings.Join(strings.Fields(src), " "), strings.Join(strings.Fields(line), " ")) {
			t.Errorf("crm/crm_gen.go lacks %q", line)
		}
	}
}

func TestGenerateReportsEveryProblem(t *testing.T) {
	bad := func(title, extra string) string {
		return `{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "` + title +
			`", "type": "object", "required": ["tenant_id"], "properties": {"tenant_id": {"type": "string"` + extra + `}}}`
	}
	cat := testCatalog(t, [][2]string{
		{"crm.a", bad("A", `, "oneOf": []`)},
		{"crm.b", bad("B", "")},
		{"erp.c", bad("C", `, "format": "uri"`)},
		{"erp.d", bad("B", "")},
		{"erp.e", bad("B", "")}, // same type name in one package
	})
	_, err := typegen.Generate(cat)
	var se *typegen.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *SchemaError", err)
	}
	for _, want := range []string{
		"typegen: crm.a v1.0.0 at #/properties/tenant_id/oneOf: ",
		"typegen: erp.c v1.0.0 at #/properties/tenant_id/format: ",
		"typegen: erp.e v1.0.0 at #: Go name erp.B is already declared by erp.d at #",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "crm.b") || strings.Contains(err.Error(), "erp.d v") {
		t.Errorf("error %q blames a valid event", err)
	}
}

// payloadImporter resolves the payload package from its real source, so
// the test fails if the generated code and the interface drift apart, and
// every other import from the standard library.
func payloadImporter(t *testing.T) types.Importer {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../payload/payload.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	std := importer.ForCompiler(fset, "source", nil)
	pkg, err := (&types.Config{Importer: std}).Check("github.com/inopsio/spine/payload", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return importerFunc(func(path string) (*types.Package, error) {
		if path == pkg.Path() {
			return pkg, nil
		}
		return std.Import(path)
	})
}

type importerFunc func(string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

func typeCheck(t *testing.T, name string, src []byte, imp types.Importer) *types.Package {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	pkg, err := (&types.Config{Importer: imp}).Check(f.Name.Name, fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatalf("%s does not compile: %v\n%s", name, err, src)
	}
	return pkg
}
