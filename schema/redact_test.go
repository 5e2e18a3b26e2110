package schema_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inopsio/spine/catalog"
)

// A rejected PII value must never be echoed in a reason: reasons reach logs
// and dead-letter headers (spec §9).
func TestReasonsWithholdPII(t *testing.T) {
	v := newValidator(t)
	const secret = "SECRET-7f3a"
	hostile := []any{
		secret + " not an address @@ !!", // breaks format and pattern
		strings.Repeat(secret, 200),      // breaks maxLength
		"",                               // breaks minLength
		json.Number("42"),                // breaks type
	}
	checked := 0
	for _, e := range catalog.MustDefault().Events() {
		for _, field := range e.PII() {
			for _, bad := range hostile {
				var doc map[string]any
				d := json.NewDecoder(strings.NewReader(string(mustRead(t, filepath.Join("..", "catalog", "testdata", "examples", e.Name+".json")))))
				d.UseNumber()
				if err := d.Decode(&doc); err != nil {
					t.Fatal(err)
				}
				setPath(doc, strings.Split(field, "."), bad)
				payload, _ := json.Marshal(doc)
				err := v.Validate(e.Name, "", payload)
				if err == nil {
					continue
				}
				checked++
				for _, viol := range violations(t, err) {
					if strings.Contains(viol.Reason, "SECRET") {
						t.Errorf("%s %s: reason leaks the value: %s", e.Name, field, viol)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no PII field was rejected: the test checked nothing")
	}
	t.Logf("%d rejected PII values checked", checked)
}

// setPath sets a nested field, creating objects on the way.
func setPath(doc map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := doc[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[p] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

func TestLongReasonsAreClipped(t *testing.T) {
	v := newValidator(t)
	// invoice_id is not PII; its pattern message echoes the value.
	p := strings.Replace(string(mustRead(t, "testdata/spec/invoice.generated.json")), `"INV-2025-004"`, `"`+strings.Repeat("x", 5000)+`"`, 1)
	for _, viol := range violations(t, v.Validate("invoice.generated", "", []byte(p))) {
		if len(viol.Reason) > 300 {
			t.Errorf("reason is %d bytes, want it clipped: %.80s…", len(viol.Reason), viol.Reason)
		}
	}
}
