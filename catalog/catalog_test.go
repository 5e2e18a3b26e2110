package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
)

// The spec's taxonomy (§2) and WebSocket bridge (§7): every event the catalog
// must hold, with its category.
var wantEvents = []struct {
	name     string
	category catalog.Category
}{
	{"tenant.created", catalog.Core},
	{"tenant.updated", catalog.Core},
	{"user.invited", catalog.Core},
	{"lead.created", catalog.CRM},
	{"deal.stage.changed", catalog.CRM},
	{"customer.synced", catalog.CRM},
	{"invoice.generated", catalog.ERP},
	{"payment.processed", catalog.ERP},
	{"order.received", catalog.ERP},
	{"workflow.triggered", catalog.Workflow},
	{"task.completed", catalog.Workflow},
	{"bpmn.node.failed", catalog.Workflow},
	{"threat.detected", catalog.InoSec},
	{"alert.acknowledged", catalog.InoSec},
	{"policy.violation", catalog.InoSec},
	{"metrics.published", catalog.Analytics},
	{"logstream.new", catalog.Analytics},
	{"alert.rate.limit", catalog.Analytics},
	{"tenant.metrics.update", catalog.Bridge},
	{"alert.new", catalog.Bridge},
	{"workflow.step.update", catalog.Bridge},
	{"crm.pipeline.refresh", catalog.Bridge},
}

func mustDefault(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Default()
	if err != nil {
		t.Fatalf("embedded catalog does not load: %v", err)
	}
	return c
}

func TestEventsAndCategories(t *testing.T) {
	c := mustDefault(t)
	if got := len(c.Events()); got != len(wantEvents) {
		t.Errorf("catalog has %d events, want %d", got, len(wantEvents))
	}
	for _, w := range wantEvents {
		t.Run(w.name, func(t *testing.T) {
			e, err := c.Event(w.name)
			if err != nil {
				t.Fatal(err)
			}
			if e.Category != w.category {
				t.Errorf("category = %q, want %q", e.Category, w.category)
			}
			if e.Topic != e.Name {
				t.Errorf("topic = %q, want the event name", e.Topic)
			}
			if e.Layer == "" || e.Description == "" || e.Retry.Why == "" {
				t.Errorf("layer, description and ordering_why must be set: %+v", e)
			}
			if len(e.Retry.Delays) == 0 {
				t.Error("no retry delays")
			}
		})
	}
}

func TestUnknownEvent(t *testing.T) {
	c := mustDefault(t)
	_, err := c.Event("lead.deleted")
	var ue *catalog.UnknownEventError
	if !errors.As(err, &ue) || ue.Name != "lead.deleted" {
		t.Fatalf("Event(lead.deleted) = %v, want *UnknownEventError", err)
	}
	if _, ok := c.Lookup("lead.deleted"); ok {
		t.Error("Lookup found an unknown event")
	}
}

// The spec's header example (§3) names lead.created's schema and source.
func TestSpecHeaderExample(t *testing.T) {
	e := mustEvent(t, "lead.created")
	if e.SchemaName != "crm-lead-schema-v1" || e.Source != "crm-service" || e.Current().Version != "1.0.0" {
		t.Errorf("lead.created: schema %q source %q version %q; want crm-lead-schema-v1, crm-service, 1.0.0",
			e.SchemaName, e.Source, e.Current().Version)
	}
}

func mustEvent(t *testing.T, name string) *catalog.Event {
	t.Helper()
	e, err := mustDefault(t).Event(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSourcesAndSchemaNames(t *testing.T) {
	sources := map[catalog.Category]string{
		catalog.Core:      "tenant-service",
		catalog.CRM:       "crm-service",
		catalog.ERP:       "erp-service",
		catalog.Workflow:  "workflow-service",
		catalog.InoSec:    "inosec-service",
		catalog.Analytics: "analytics-service",
		catalog.Bridge:    "notifications-service",
	}
	for _, e := range mustDefault(t).Events() {
		if e.Source != sources[e.Category] {
			t.Errorf("%s: source %q, want %q", e.Name, e.Source, sources[e.Category])
		}
		if len(e.Consumers) == 0 {
			t.Errorf("%s: no consumers", e.Name)
		}
		want := string(e.Category) + "-" + strings.ReplaceAll(e.Name, ".", "-") + "-schema-v1"
		if e.Name == "lead.created" {
			want = "crm-lead-schema-v1" // the spec's own name (§3)
		}
		if e.SchemaName != want {
			t.Errorf("%s: schema %q, want %q", e.Name, e.SchemaName, want)
		}
	}
}

func TestBridges(t *testing.T) {
	tests := []struct {
		bridge, destination string
		fedBy               []string
	}{
		{"tenant.metrics.update", "Admin Frontend", []string{"metrics.published"}},
		{"alert.new", "Security Console", []string{"threat.detected", "policy.violation", "alert.rate.limit"}},
		{"workflow.step.update", "Workflow Designer", []string{"workflow.triggered", "task.completed", "bpmn.node.failed"}},
		{"crm.pipeline.refresh", "CRM Dashboard", []string{"lead.created", "deal.stage.changed", "customer.synced"}},
	}
	c := mustDefault(t)
	for _, tt := range tests {
		t.Run(tt.bridge, func(t *testing.T) {
			b, err := c.Event(tt.bridge)
			if err != nil {
				t.Fatal(err)
			}
			if b.Category != catalog.Bridge || b.Destination != tt.destination {
				t.Errorf("category %q destination %q, want bridge, %q", b.Category, b.Destination, tt.destination)
			}
			if b.Bridge != "" {
				t.Errorf("a bridge event feeds %q", b.Bridge)
			}
			if !slices.Equal(b.FedBy, tt.fedBy) {
				t.Errorf("fed by %v, want %v", b.FedBy, tt.fedBy)
			}
			for _, f := range b.FedBy {
				fe, _ := c.Lookup(f)
				if !slices.Contains(fe.Consumers, "notifications-service") {
					t.Errorf("%s feeds %s but notifications-service does not consume it", f, tt.bridge)
				}
			}
		})
	}
	for _, e := range c.Events() {
		if e.Category != catalog.Bridge && e.Destination != "" {
			t.Errorf("%s: a domain event has destination %q", e.Name, e.Destination)
		}
	}
}

// Which events must hold later events of their key while one is retried.
func TestOrdering(t *testing.T) {
	strict := []string{"tenant.updated", "deal.stage.changed", "customer.synced", "payment.processed", "bpmn.node.failed"}
	for _, e := range mustDefault(t).Events() {
		want := catalog.NonBlocking
		if slices.Contains(strict, e.Name) {
			want = catalog.Strict
		}
		if e.Retry.Ordering != want {
			t.Errorf("%s: ordering %q, want %q", e.Name, e.Retry.Ordering, want)
		}
	}
}

func TestPartitionKeyIsTenantID(t *testing.T) {
	for _, e := range mustDefault(t).Events() {
		if e.PartitionKey != "tenant_id" {
			t.Errorf("%s: partition key %q, want tenant_id", e.Name, e.PartitionKey)
		}
	}
}

// PII fields as read from the schemas' "confluent:tags". A change here is a
// change of what gets encrypted: review it with security.
func TestPII(t *testing.T) {
	want := map[string][]string{
		"tenant.created":     {"owner.email", "owner.name"},
		"user.invited":       {"email", "message", "name"},
		"lead.created":       {"email", "name"},
		"deal.stage.changed": {"lost_reason"},
		"customer.synced":    {"contact.email", "contact.name", "contact.phone"},
		"order.received":     {"shipping_address.line1", "shipping_address.line2", "shipping_address.postal_code", "shipping_address.recipient_name"},
		"bpmn.node.failed":   {"error_message"},
		"threat.detected":    {"actor.ip_address", "actor.username"},
		"alert.acknowledged": {"note"},
		"policy.violation":   {"actor.ip_address", "actor.username"},
		"alert.rate.limit":   {"subject.ip_address"},
	}
	for _, e := range mustDefault(t).Events() {
		for _, sv := range e.Versions {
			if got := sv.PII; !slices.Equal(got, want[e.Name]) {
				t.Errorf("%s %s: PII %q, want %q", e.Name, sv.Version, got, want[e.Name])
			}
		}
	}
	if got := mustEvent(t, "lead.created").PII(); !slices.Equal(got, []string{"email", "name"}) {
		t.Errorf("lead.created PII = %q, want [email name]", got)
	}
}

func TestVersions(t *testing.T) {
	for _, e := range mustDefault(t).Events() {
		want := []string{"1.0.0"}
		if e.Name == "customer.synced" {
			want = []string{"1.0.0", "1.1.0"}
		}
		var got []string
		for _, sv := range e.Versions {
			got = append(got, sv.Version)
			if sv.Event != e.Name || sv.Path != path.Join("schemas", e.Name, "v"+sv.Version+".json") {
				t.Errorf("%s %s: event %q path %q", e.Name, sv.Version, sv.Event, sv.Path)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: versions %v, want %v", e.Name, got, want)
		}
		if e.Current() != e.Versions[len(e.Versions)-1] || e.Version("9.9.9") != nil {
			t.Errorf("%s: Current/Version wrong", e.Name)
		}
	}
}

// node is a JSON Schema (sub)document.
type node = map[string]any

func decodeSchema(t *testing.T, raw []byte) node {
	t.Helper()
	var n node
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Keywords the Go type generator understands. Everything else (combinators,
// $ref, additionalProperties, multipleOf…) is refused.
var allowedKeywords = map[string]bool{
	"type": true, "properties": true, "required": true, "enum": true, "format": true, "pattern": true,
	"minLength": true, "maxLength": true, "minimum": true, "maximum": true, "exclusiveMinimum": true,
	"minItems": true, "maxItems": true, "items": true, "description": true, "title": true,
	"default": true, "examples": true, "confluent:tags": true,
}

var (
	upperEnumRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	unboundedRE = regexp.MustCompile(`[*+]|\{[0-9]+,\}`)
	acronyms    = map[string]string{"bpmn": "BPMN", "crm": "CRM"}
)

// goName is the PascalCase type name of an event: lead.created → LeadCreated.
func goName(event string) string {
	var b strings.Builder
	for w := range strings.SplitSeq(event, ".") {
		if a, ok := acronyms[w]; ok {
			b.WriteString(a)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// TestSchemaConventions checks every schema version against the rules that
// keep payloads safe to accept from hostile producers and generate Go types
// from: bounded strings, arrays and numbers, UPPER_CASE enums, an open
// content model, tenant_id everywhere.
func TestSchemaConventions(t *testing.T) {
	for _, e := range mustDefault(t).Events() {
		for _, sv := range e.Versions {
			t.Run(e.Name+"@"+sv.Version, func(t *testing.T) {
				doc := decodeSchema(t, sv.Schema)
				wantID := fmt.Sprintf("https://schemas.inopsio.com/events/%s/v%s.json", e.Name, sv.Version)
				if doc["$id"] != wantID {
					t.Errorf("$id = %v, want %s", doc["$id"], wantID)
				}
				if doc["title"] != goName(e.Name) {
					t.Errorf("title = %v, want %s", doc["title"], goName(e.Name))
				}
				if doc["type"] != "object" {
					t.Errorf("type = %v, want object", doc["type"])
				}
				props, _ := doc["properties"].(node)
				tid, _ := props["tenant_id"].(node)
				if tid == nil || tid["type"] != "string" || tid["format"] != "uuid" || !slices.Contains(requiredOf(doc), "tenant_id") {
					t.Errorf("tenant_id must be a required string of format uuid")
				}
				root := node{}
				for k, v := range doc {
					if k != "$schema" && k != "$id" {
						root[k] = v
					}
				}
				checkNode(t, "", root)
			})
		}
	}
}

func requiredOf(n node) []string {
	var out []string
	req, _ := n["required"].([]any)
	for _, r := range req {
		s, _ := r.(string)
		out = append(out, s)
	}
	return out
}

func checkNode(t *testing.T, at string, n node) {
	t.Helper()
	where := at
	if where == "" {
		where = "(root)"
	}
	for k := range n {
		if !allowedKeywords[k] {
			t.Errorf("%s: keyword %q is outside the supported subset", where, k)
		}
	}
	if d, _ := n["description"].(string); d == "" {
		t.Errorf("%s: no description", where)
	}
	typ, _ := n["type"].(string)
	if tags, ok := n["confluent:tags"]; ok {
		if typ != "string" || !reflect.DeepEqual(tags, []any{"PII"}) {
			t.Errorf("%s: confluent:tags must be [\"PII\"] on a string", where)
		}
	}
	if _, ok := n["enum"]; ok {
		vals, _ := n["enum"].([]any)
		if typ != "string" || len(vals) == 0 {
			t.Errorf("%s: enum must be a non-empty list on a string", where)
		}
		for _, v := range vals {
			if s, _ := v.(string); !upperEnumRE.MatchString(s) {
				t.Errorf("%s: enum value %v is not UPPER_CASE", where, v)
			}
		}
	}
	if p, ok := n["pattern"].(string); ok {
		if _, err := regexp.Compile(p); err != nil || !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
			t.Errorf("%s: pattern %q must compile and be anchored with ^…$", where, p)
		}
	}
	switch typ {
	case "object":
		props, ok := n["properties"].(node)
		if !ok || len(props) == 0 {
			t.Errorf("%s: an object needs properties", where)
		}
		for _, r := range requiredOf(n) {
			if _, ok := props[r]; !ok {
				t.Errorf("%s: required %q is not a property", where, r)
			}
		}
		for name, p := range props {
			pn, ok := p.(node)
			if !ok {
				t.Errorf("%s/%s: not a schema object", at, name)
				continue
			}
			checkNode(t, at+"/"+name, pn)
		}
	case "array":
		if _, ok := n["maxItems"]; !ok {
			t.Errorf("%s: an array needs maxItems", where)
		}
		items, ok := n["items"].(node)
		if !ok {
			t.Errorf("%s: an array needs one items schema", where)
			break
		}
		checkNode(t, at+"/items", items)
	case "string":
		switch f, _ := n["format"].(string); f {
		case "", "email":
		case "uuid", "date-time", "date":
			return // fixed length by format
		default:
			t.Errorf("%s: format %q is not one of uuid, email, date-time, date", where, f)
		}
		if _, ok := n["enum"]; ok {
			return
		}
		if _, ok := n["maxLength"]; ok {
			return
		}
		if p, ok := n["pattern"].(string); ok && !unboundedRE.MatchString(p) {
			return // ^[A-Z]{3}$ and the like
		}
		t.Errorf("%s: a string needs maxLength (or enum, a fixed-length format or a bounded pattern)", where)
	case "number", "integer":
		_, lo := n["minimum"]
		_, xlo := n["exclusiveMinimum"]
		_, hi := n["maximum"]
		if !(lo || xlo) || !hi {
			t.Errorf("%s: a number needs a lower and an upper bound", where)
		}
	case "boolean":
	default:
		t.Errorf("%s: type %v is not one of object, array, string, number, integer, boolean", where, n["type"])
	}
}

// TestMinorVersionsAreBackwardCompatible: within one major version a newer
// schema keeps every property of the one before it unchanged and requires
// nothing new (spec §5: "new fields must be optional").
func TestMinorVersionsAreBackwardCompatible(t *testing.T) {
	for _, e := range mustDefault(t).Events() {
		for i := 1; i < len(e.Versions); i++ {
			old, cur := e.Versions[i-1], e.Versions[i]
			if strings.Split(old.Version, ".")[0] != strings.Split(cur.Version, ".")[0] {
				continue
			}
			o, n := decodeSchema(t, old.Schema), decodeSchema(t, cur.Schema)
			if !slices.Equal(requiredOf(o), requiredOf(n)) {
				t.Errorf("%s %s: required %v differs from %s's %v", e.Name, cur.Version, requiredOf(n), old.Version, requiredOf(o))
			}
			op, np := o["properties"].(node), n["properties"].(node)
			for name, p := range op {
				if !reflect.DeepEqual(p, np[name]) {
					t.Errorf("%s %s: property %q changed or removed since %s", e.Name, cur.Version, name, old.Version)
				}
			}
			if len(np) <= len(op) {
				t.Errorf("%s %s: adds no property to %s", e.Name, cur.Version, old.Version)
			}
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// testdataFiles returns the event names of dir's *.json files.
func testdataFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range ents {
		n, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || de.IsDir() {
			t.Errorf("%s/%s: not an <event>.json file", dir, de.Name())
			continue
		}
		names = append(names, n)
	}
	return names
}

func TestTestdataMatchesCatalog(t *testing.T) {
	var events []string
	for _, e := range mustDefault(t).Events() {
		events = append(events, e.Name)
	}
	slices.Sort(events)
	for _, dir := range []string{"testdata/examples", "testdata/invalid"} {
		got := testdataFiles(t, dir)
		slices.Sort(got)
		if !slices.Equal(got, events) {
			t.Errorf("%s holds %v, want one file per catalog event %v", dir, got, events)
		}
	}
}

func TestExamples(t *testing.T) {
	c := mustDefault(t)
	for _, name := range testdataFiles(t, "testdata/examples") {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/examples/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("not a JSON object: %v", err)
			}
			if tid, _ := p["tenant_id"].(string); !uuidRE.MatchString(tid) {
				t.Errorf("tenant_id %v is not a lower-case uuid", p["tenant_id"])
			}
			e, ok := c.Lookup(name)
			if !ok {
				t.Fatal("not a catalog event")
			}
			// Every required property of the current schema is present.
			doc := decodeSchema(t, e.Current().Schema)
			for _, r := range requiredOf(doc) {
				if _, ok := p[r]; !ok {
					t.Errorf("required %q missing", r)
				}
			}
		})
	}
}

// The spec's four example payloads (§4) are normative: the examples keep
// their field names and values (with real uuids and e-mail addresses).
func TestSpecExamples(t *testing.T) {
	tests := map[string]map[string]any{
		"lead.created": {"name": "John Doe", "email": "john.doe@example.com", "source": "marketing",
			"assigned_to": "user_id", "created_at": "2025-10-24T14:00:00Z"},
		"invoice.generated": {"invoice_id": "INV-2025-004", "amount": 3500.0, "currency": "USD", "status": "PENDING",
			"issued_by": "user_id", "issued_at": "2025-10-24T12:00:00Z"},
		"task.completed": {"workflow_id": "WFL-2025-001", "status": "COMPLETED", "completed_at": "2025-10-24T11:42:33Z"},
		"threat.detected": {"severity": "HIGH", "source_system": "endpoint-agent",
			"description": "Unusual data exfiltration pattern", "detected_at": "2025-10-24T09:30:00Z"},
	}
	uuids := map[string][]string{
		"lead.created":      {"lead_id", "tenant_id"},
		"invoice.generated": {"tenant_id"},
		"task.completed":    {"tenant_id", "task_id", "user_id"},
		"threat.detected":   {"alert_id", "tenant_id"},
	}
	for name, want := range tests {
		raw, err := os.ReadFile("testdata/examples/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want)+len(uuids[name]) {
			t.Errorf("%s: %d fields, want the spec's %d", name, len(got), len(want)+len(uuids[name]))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", name, k, got[k], v)
			}
		}
		for _, k := range uuids[name] {
			if s, _ := got[k].(string); !uuidRE.MatchString(s) {
				t.Errorf("%s: %s = %v, want a uuid", name, k, got[k])
			}
		}
	}
}

type invalidCase struct {
	Name           string          `json:"name"`
	Payload        json.RawMessage `json:"payload"`
	Pointer        string          `json:"pointer"`
	ReasonContains string          `json:"reason_contains"`
}

// TestInvalidCasesAreWellFormed checks the shape of testdata/invalid; the
// schema package's tests run them through the validator.
func TestInvalidCasesAreWellFormed(t *testing.T) {
	c := mustDefault(t)
	for _, name := range testdataFiles(t, "testdata/invalid") {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/invalid/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var cases []invalidCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cases); err != nil {
				t.Fatal(err)
			}
			if len(cases) < 4 || len(cases) > 8 {
				t.Errorf("%d cases, want 4 to 8", len(cases))
			}
			e, ok := c.Lookup(name)
			if !ok {
				t.Fatal("not a catalog event")
			}
			doc := decodeSchema(t, e.Current().Schema)
			seen := map[string]bool{}
			for _, tc := range cases {
				if tc.Name == "" || seen[tc.Name] {
					t.Errorf("case %q: empty or duplicate name", tc.Name)
				}
				seen[tc.Name] = true
				var p map[string]any
				if err := json.Unmarshal(tc.Payload, &p); err != nil {
					t.Errorf("%s: payload is not an object: %v", tc.Name, err)
				}
				if tc.ReasonContains == "" || !strings.Contains(tc.Pointer, tc.ReasonContains) {
					t.Errorf("%s: reason_contains %q must name the field of pointer %q", tc.Name, tc.ReasonContains, tc.Pointer)
				}
				if !pointsIntoSchema(doc, tc.Pointer) {
					t.Errorf("%s: pointer %q is not a field of the schema", tc.Name, tc.Pointer)
				}
			}
		})
	}
}

// pointsIntoSchema reports whether a payload pointer names a property (or an
// array element) the schema defines.
func pointsIntoSchema(n node, pointer string) bool {
	if !strings.HasPrefix(pointer, "/") {
		return false
	}
	for tok := range strings.SplitSeq(pointer[1:], "/") {
		switch n["type"] {
		case "object":
			props, _ := n["properties"].(node)
			next, ok := props[tok].(node)
			if !ok {
				return false
			}
			n = next
		case "array":
			if strings.Trim(tok, "0123456789") != "" {
				return false
			}
			n, _ = n["items"].(node)
		default:
			return false
		}
	}
	return true
}

// The changelog (docs/event-schemas/CHANGELOG.md) is checked in changelog_test.go.

// --- the loader refuses broken catalogs -----------------------------------

const (
	minimalYAML   = catalogtest.Header + catalogtest.MinimalEvents
	minimalSchema = catalogtest.MinimalSchema
)

func minimalFS() fstest.MapFS {
	return fstest.MapFS{
		"catalog.yaml":                              {Data: []byte(minimalYAML)},
		"schemas/lead.created/v1.0.0.json":          {Data: []byte(minimalSchema)},
		"schemas/crm.pipeline.refresh/v1.0.0.json":  {Data: []byte(minimalSchema)},
		"schemas/lead.created/v1.1.0.json":          {Data: []byte(minimalSchema)},
		"schemas/crm.pipeline.refresh/v2.0.0.json":  {Data: []byte(minimalSchema)},
		"schemas/lead.created/unrelated-notes.json": {Data: []byte(`{}`)},
	}
}

func TestLoadMinimal(t *testing.T) {
	c, err := catalog.Load(minimalFS())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Lookup("crm.pipeline.refresh")
	if !slices.Equal(b.FedBy, []string{"lead.created"}) || b.Destination != "CRM Dashboard" {
		t.Errorf("bridge: fed by %v, destination %q", b.FedBy, b.Destination)
	}
}

func TestLoadRejects(t *testing.T) {
	// replace edits catalog.yaml; the old text must occur.
	replace := func(old, new string) func(t *testing.T, fsys fstest.MapFS) {
		return func(t *testing.T, fsys fstest.MapFS) {
			y := string(fsys["catalog.yaml"].Data)
			if !strings.Contains(y, old) {
				t.Fatalf("test bug: %q not in catalog.yaml", old)
			}
			fsys["catalog.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(y, old, new, 1))}
		}
	}
	piiInItems := `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "required": ["tenant_id"], "properties": {"tenant_id": {"type": "string", "format": "uuid"},
 "emails": {"type": "array", "items": {"type": "string", "confluent:tags": ["PII"]}}}}`
	leadEvent := minimalYAML[strings.Index(minimalYAML, "  - name: lead.created"):strings.Index(minimalYAML, "  - name: crm.pipeline.refresh")]

	tests := []struct {
		name   string
		break_ func(t *testing.T, fsys fstest.MapFS)
		want   []string // substrings of the error
	}{
		{"unknown category", replace("category: crm", "category: sales"),
			[]string{"lead.created", `unknown category "sales"`}},
		{"duplicate name", replace("  - name: crm.pipeline.refresh", leadEvent+"  - name: crm.pipeline.refresh"),
			[]string{"events[1] (lead.created): duplicate event name"}},
		{"missing schema file", func(t *testing.T, fsys fstest.MapFS) { delete(fsys, "schemas/lead.created/v1.0.0.json") },
			[]string{"lead.created", "schemas/lead.created/v1.0.0.json"}},
		{"schema file for a version that does not exist", replace("versions: [1.0.0]\n    ordering: non-blocking\n    ordering_why: Leads", "versions: [1.0.0, 1.2.0]\n    ordering: non-blocking\n    ordering_why: Leads"),
			[]string{"lead.created", "v1.2.0.json"}},
		{"versions not ascending", replace("versions: [1.0.0]", "versions: [1.1.0, 1.0.0]"),
			[]string{"lead.created", "version 1.0.0 is not newer"}},
		{"duplicate version", replace("versions: [1.0.0]", "versions: [1.0.0, 1.0.0]"),
			[]string{"lead.created", "version 1.0.0 is not newer"}},
		{"version not semver", replace("versions: [1.0.0]", "versions: [v1]"),
			[]string{"lead.created", `"v1" is not MAJOR.MINOR.PATCH`}},
		{"version of another major", replace("versions: [1.0.0]\n    ordering: non-blocking\n    ordering_why: Superseded", "versions: [2.0.0]\n    ordering: non-blocking\n    ordering_why: Superseded"),
			[]string{"crm.pipeline.refresh", "does not belong to schema"}},
		{"PII tag inside items", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(piiInItems)}
		}, []string{"lead.created", `PII tag under "items"`}},
		{"bridge pointing at a non-bridge event", replace("bridge: crm.pipeline.refresh", "bridge: lead.created"),
			[]string{`bridge "lead.created" is not a bridge event`}},
		{"bridge pointing at an unknown event", replace("bridge: crm.pipeline.refresh", "bridge: kanban.refresh"),
			[]string{`bridge "kanban.refresh" is not a bridge event`}},
		{"bridge event fed by nothing", replace("    bridge: crm.pipeline.refresh\n", ""),
			[]string{"crm.pipeline.refresh: no event feeds this bridge event"}},
		{"missing ordering_why", replace("    ordering_why: Leads are independent.\n", ""),
			[]string{"lead.created", "ordering_why is required"}},
		{"unknown ordering", replace("ordering: non-blocking", "ordering: fifo"),
			[]string{"lead.created", "ordering must be"}},
		{"bridge event without destination", replace("    destination: CRM Dashboard\n", ""),
			[]string{"crm.pipeline.refresh", "destination is required"}},
		{"domain event with destination", replace("    source: crm-service\n", "    source: crm-service\n    destination: CRM Dashboard\n"),
			[]string{"lead.created", "destination is required for bridge events and only for them"}},
		{"bad schema name", replace("schema: crm-lead-schema-v1", "schema: CrmLead"),
			[]string{"lead.created", `schema "CrmLead" is not a schema name`}},
		{"bad service name", replace("source: crm-service", "source: CRM_Service"),
			[]string{"lead.created", `"CRM_Service" is not a service name`}},
		{"bad event name", replace("name: lead.created\n    category", "name: LeadCreated\n    category"),
			[]string{"LeadCreated", "not lower-case dot-separated"}},
		{"missing description", replace("    description: A lead entered the sales pipeline.\n", ""),
			[]string{"lead.created", "description is required"}},
		{"missing category layer", replace("  - {name: erp, layer: Commerce}\n", ""),
			[]string{`"erp" is missing`}},
		{"bad retry delay", replace("retry_delays: [500ms, 2s]", "retry_delays: [500ms, soon]"),
			[]string{`"soon" is not a positive duration`}},
		{"partition key not required", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, `"required": ["tenant_id"], `, "", 1))}
		}, []string{"lead.created", `partition key "tenant_id" is not a required top-level property`}},
		{"wrong $schema", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, "2020-12", "2019-09", 1))}
		}, []string{"lead.created", "$schema must be"}},
		{"duplicate key in schema", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, `"type": "object",`, `"type": "object", "type": "array",`, 1))}
		}, []string{"lead.created", "duplicate"}},
		{"PII tag on a non-string", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, `"format": "uuid"}}`, `"format": "uuid"}, "age": {"type": "integer", "confluent:tags": ["PII"]}}`, 1))}
		}, []string{"lead.created", `PII field "age" must be of type string`}},
		{"PII tag under not", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, `"type": "object",`, `"type": "object", "not": {"properties": {"x": {"type": "string", "confluent:tags": ["PII"]}}},`, 1))}
		}, []string{"lead.created", `PII tag under "not"`}},
		{"partition key missing from an older version", func(t *testing.T, fsys fstest.MapFS) {
			replace("versions: [1.0.0]\n    ordering: non-blocking\n    ordering_why: Leads", "versions: [1.0.0, 1.1.0]\n    ordering: non-blocking\n    ordering_why: Leads")(t, fsys)
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalSchema, `"required": ["tenant_id"], `, "", 1))}
		}, []string{"lead.created 1.0.0", `partition key "tenant_id"`}},
		{"feeder does not name the bridge producer as consumer", replace("consumers: [notifications-service]\n    schema: crm-lead", "consumers: [analytics-service]\n    schema: crm-lead"),
			[]string{"lead.created", "consumers must include notifications-service"}},
		{"schema not JSON", func(t *testing.T, fsys fstest.MapFS) {
			fsys["schemas/lead.created/v1.0.0.json"] = &fstest.MapFile{Data: []byte(`{"$schema": `)}
		}, []string{"lead.created", "not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := minimalFS()
			tt.break_(t, fsys)
			c, err := catalog.Load(fsys)
			if err == nil {
				t.Fatalf("loaded a broken catalog: %d events", len(c.Events()))
			}
			var le *catalog.LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %T, want *catalog.LoadError: %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadRejectsUnreadableOrUnknownYAML(t *testing.T) {
	tests := []struct {
		name string
		fsys fs.FS
		want string
	}{
		{"no catalog.yaml", fstest.MapFS{}, "read catalog.yaml"},
		{"unknown field", func() fs.FS {
			f := minimalFS()
			f["catalog.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(minimalYAML, "ordering_why: Leads", "pii: [email]\n    ordering_why: Leads", 1))}
			return f
		}(), `unknown field "pii"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalog.Load(tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// The embedded FS holds exactly the files the catalog names: no stray or
// orphaned schema versions.
func TestNoOrphanSchemaFiles(t *testing.T) {
	c := mustDefault(t)
	named := map[string]bool{}
	for _, e := range c.Events() {
		for _, sv := range e.Versions {
			named[sv.Path] = true
		}
	}
	err := fs.WalkDir(catalog.FS(), "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !named[p] {
			t.Errorf("%s is not a version named in catalog.yaml", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
