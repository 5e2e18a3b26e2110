package roundtrip_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/payload"
	"github.com/inopsio/spine/payload/analytics"
	"github.com/inopsio/spine/payload/bridge"
	"github.com/inopsio/spine/payload/core"
	"github.com/inopsio/spine/payload/crm"
	"github.com/inopsio/spine/payload/erp"
	"github.com/inopsio/spine/payload/inosec"
	"github.com/inopsio/spine/payload/workflow"
)

// newByCategory is each generated package's constructor.
var newByCategory = map[catalog.Category]func(string) (payload.Payload, bool){
	catalog.Core:      core.New,
	catalog.CRM:       crm.New,
	catalog.ERP:       erp.New,
	catalog.Workflow:  workflow.New,
	catalog.InoSec:    inosec.New,
	catalog.Analytics: analytics.New,
	catalog.Bridge:    bridge.New,
}

// exampleDirs are searched in order for <event>.json, a payload example:
// the catalog's examples, then payload/testdata/examples for events the
// catalog has no example of yet.
var exampleDirs = []string{"../../catalog/testdata/examples", "../testdata/examples"}

// constructors maps every catalog event to its generated type's constructor,
// checking on the way that the type says it belongs to that event and to
// the current schema version.
func constructors(t *testing.T) map[string]func() payload.Payload {
	t.Helper()
	out := map[string]func() payload.Payload{}
	for _, e := range catalog.MustDefault().Events() {
		newFn := newByCategory[e.Category]
		if newFn == nil {
			t.Errorf("%s: no payload package for category %q", e.Name, e.Category)
			continue
		}
		p, ok := newFn(e.Name)
		if !ok {
			t.Errorf("%s: payload/%s.New does not know it", e.Name, e.Category)
			continue
		}
		if p.EventName() != e.Name || p.SchemaVersion() != e.Current().Version {
			t.Errorf("%s: generated type says %s %s, catalog says %s %s",
				e.Name, p.EventName(), p.SchemaVersion(), e.Name, e.Current().Version)
		}
		out[e.Name] = func() payload.Payload { p, _ := newFn(e.Name); return p }
	}
	if _, ok := newByCategory[catalog.CRM]("no.such.event"); ok {
		t.Error("crm.New accepts an unknown event")
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	ctors := constructors(t)
	found := map[string]bool{}
	for _, e := range catalog.MustDefault().Events() {
		var examples [][]byte
		if raw, err := readExample(e.Name); err == nil {
			examples = append(examples, raw)
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		examples = append(examples, schemaExamples(t, e.Current().Schema)...)
		found[e.Name] = len(examples) > 0
		for i, raw := range examples {
			t.Run(e.Name, func(t *testing.T) {
				if ctors[e.Name] == nil {
					t.Skip("no generated type")
				}
				roundTrip(t, i, ctors[e.Name](), raw)
			})
		}
	}
	if !found["lead.created"] {
		t.Error("no example of lead.created: add catalog/testdata/examples/lead.created.json")
	}
}

// roundTrip decodes raw strictly into p, encodes it again and wants the
// same JSON back, so no field is lost, renamed or invented on the way.
func roundTrip(t *testing.T, i int, p payload.Payload, raw []byte) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		t.Fatalf("example %d: decode into %T: %v", i, p, err)
	}
	checkEnums(t, reflect.ValueOf(p))
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("example %d: encode %T: %v", i, p, err)
	}
	if path, ok := sameJSON(decodeAny(t, raw), decodeAny(t, out), "$"); !ok {
		t.Errorf("example %d: %T changes the payload at %s\n in: %s\nout: %s", i, p, path, raw, out)
	}
}

func readExample(event string) ([]byte, error) {
	for _, dir := range exampleDirs {
		raw, err := os.ReadFile(filepath.Join(dir, event+".json"))
		if !errors.Is(err, fs.ErrNotExist) {
			return raw, err
		}
	}
	return nil, fs.ErrNotExist
}

// schemaExamples returns the payload examples a schema carries itself.
func schemaExamples(t *testing.T, schema []byte) [][]byte {
	var doc struct{ Examples []json.RawMessage }
	if err := json.Unmarshal(schema, &doc); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(doc.Examples))
	for i, ex := range doc.Examples {
		out[i] = ex
	}
	return out
}

// checkEnums calls Valid on every enum value in v: an example using a value
// the generated constants lack means the generator dropped one.
func checkEnums(t *testing.T, v reflect.Value) {
	t.Helper()
	if m := v.MethodByName("Valid"); m.IsValid() && v.Kind() == reflect.String {
		if !m.Call(nil)[0].Bool() {
			t.Errorf("%s value %q is not Valid", v.Type(), v.String())
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkEnums(t, v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkEnums(t, v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			checkEnums(t, v.Field(i))
		}
	}
}

func decodeAny(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// sameJSON compares decoded JSON by meaning: numbers by value (3500.0 is
// 3500) and strings that are both RFC 3339 times by instant, since
// time.Time may re-encode the same instant differently. It returns the
// path of the first difference.
func sameJSON(a, b any, path string) (string, bool) {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return path, false
		}
		for k, av := range a {
			if p, ok := sameJSON(av, b[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return path, false
		}
		for i := range a {
			if p, ok := sameJSON(a[i], b[i], path+"["+strconv.Itoa(i)+"]"); !ok {
				return p, false
			}
		}
		return "", true
	case json.Number:
		b, ok := b.(json.Number)
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return path, ok && okx && oky && x.Cmp(y) == 0
	case string:
		b, ok := b.(string)
		if ok && a != b {
			ta, erra := time.Parse(time.RFC3339Nano, a)
			tb, errb := time.Parse(time.RFC3339Nano, b)
			return path, erra == nil && errb == nil && ta.Equal(tb)
		}
		return path, ok
	}
	return path, a == b
}

// TestSameJSON keeps the comparison honest: a comparator that accepts
// everything would make TestRoundTrip pass vacuously.
func TestSameJSON(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"n": 3500.0}`, `{"n": 3500}`, true},
		{`{"t": "2025-10-24T14:00:00+02:00"}`, `{"t": "2025-10-24T12:00:00Z"}`, true},
		{`{"a": [1, {"b": "x"}]}`, `{"a": [1, {"b": "x"}]}`, true},
		{`{"n": 1}`, `{"n": 2}`, false},
		{`{"s": "x"}`, `{"s": "y"}`, false},
		{`{"t": "2025-10-24T14:00:00Z"}`, `{"t": "2025-10-24T14:00:01Z"}`, false},
		{`{"a": 1, "b": 2}`, `{"a": 1}`, false},
		{`{"a": 1}`, `{"b": 1}`, false},
		{`{"a": [1, 2]}`, `{"a": [1]}`, false},
		{`{"a": null}`, `{"a": false}`, false},
		{`{"a": "1"}`, `{"a": 1}`, false},
	} {
		if _, got := sameJSON(decodeAny(t, []byte(tc.a)), decodeAny(t, []byte(tc.b)), "$"); got != tc.same {
			t.Errorf("sameJSON(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
