package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/catalog/catalogtest"
)

// TestMain fails the run if goroutines outlive the tests: the fake
// registries start HTTP servers and clients, and every one must be stopped.
// (A small stand-in for go.uber.org/goleak, which go.mod does not list.)
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to d for every goroutine but the test binary's
// own to end, and returns the stacks of those that did not.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") || // this goroutine
				strings.Contains(g, "testing.(*M).") ||
				strings.Contains(g, "runtime.goexit0") ||
				strings.Contains(g, "os/signal.signal_recv") ||
				strings.Contains(g, "runtime.ensureSigM") {
				continue
			}
			leaked = append(leaked, g)
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// defaultCatalog is the embedded catalog, whatever events it holds today.
func defaultCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Default()
	if err != nil {
		t.Fatalf("catalog.Default: %v", err)
	}
	if len(c.Events()) == 0 {
		t.Fatal("the embedded catalog has no events")
	}
	return c
}

// testEvent describes one event of a catalog built by testCatalog.
type testEvent struct {
	name     string   // e.g. "lead.created"; the topic is the name
	versions []string // oldest first, all of major 1
}

// testCatalog builds a small valid catalog in memory. Version 1.N adds an
// optional property xN to the schema, which keeps the versions backward
// compatible.
func testCatalog(t testing.TB, events ...testEvent) *catalog.Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	var y strings.Builder
	y.WriteString(catalogtest.Header)
	for _, e := range events {
		fmt.Fprintf(&y, `  - name: %s
    category: crm
    description: test event
    source: crm-service
    consumers: [analytics-service]
    schema: %s-schema-v1
    versions: [%s]
    ordering: non-blocking
    ordering_why: tests
`, e.name, strings.ReplaceAll(e.name, ".", "-"), strings.Join(e.versions, ", "))
		props := map[string]any{"tenant_id": map[string]any{"type": "string"}}
		for i, v := range e.versions {
			if i > 0 {
				props[fmt.Sprintf("x%d", i)] = map[string]any{"type": "string"}
			}
			doc := map[string]any{
				"$schema":    "https://json-schema.org/draft/2020-12/schema",
				"title":      e.name,
				"type":       "object",
				"required":   []string{"tenant_id"},
				"properties": cloneMap(props),
			}
			raw, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			fsys[fmt.Sprintf("schemas/%s/v%s.json", e.name, v)] = &fstest.MapFile{Data: raw}
		}
	}
	fsys["catalog.yaml"] = &fstest.MapFile{Data: []byte(y.String())}
	c, err := catalog.Load(fsys)
	if err != nil {
		t.Fatalf("load test catalog: %v", err)
	}
	return c
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// reformat returns schema with other whitespace and key order: the same
// schema to a registry that compares canonically, different bytes.
func reformat(t testing.TB, schema []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(schema, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "\t\t") // sorted keys, odd indent
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out, schema) {
		t.Fatal("reformat produced identical bytes")
	}
	return append(out, '\n', ' ')
}

// changed returns schema with one more property: a schema no catalog holds.
func changed(t testing.TB, schema []byte) []byte {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(schema, &v); err != nil {
		t.Fatal(err)
	}
	v["description"] = fmt.Sprint(v["description"], " (changed by a test)")
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
