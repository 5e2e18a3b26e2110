package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// leaf is a one-keyword schema compiled both ways: by the reference compiler
// and into a fast path.
type leaf struct {
	name string
	// quote says the fuzzer's input is the content of a JSON string rather
	// than a raw JSON value.
	quote bool
	ref   *jsonschema.Schema
	fast  *fastChecker
}

var leafSchemas = []struct {
	name, schema string
	quote        bool
}{
	{"uuid", `{"type": "string", "format": "uuid"}`, true},
	{"date", `{"type": "string", "format": "date"}`, true},
	{"date-time", `{"type": "string", "format": "date-time"}`, true},
	{"email", `{"type": "string", "format": "email"}`, true},
	{"lengths", `{"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[^x]"}`, true},
	{"number", `{"type": "number", "minimum": -1.5, "maximum": 1000000000000, "exclusiveMinimum": -2}`, false},
	{"positive", `{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5}`, false},
	{"integer", `{"type": "integer", "minimum": -5, "maximum": 9007199254740992}`, false},
}

func compileLeaves(t testing.TB) []leaf {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	var out []leaf
	for _, ls := range leafSchemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(ls.schema))
		if err != nil {
			t.Fatal(err)
		}
		url := "leaf:///" + ls.name
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		ref, err := c.Compile(url)
		if err != nil {
			t.Fatal(err)
		}
		fc := compileFast(doc)
		if fc == nil {
			t.Fatalf("%s: no fast path", ls.name)
		}
		out = append(out, leaf{ls.name, ls.quote, ref, fc})
	}
	return out
}

// check returns the fast path's verdict on input and fails if the reference
// disagrees with an acceptance.
func (l leaf) check(t *testing.T, input string) bool {
	t.Helper()
	payload := []byte(input)
	if l.quote {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(input); err != nil {
			return false
		}
		payload = bytes.TrimSpace(b.Bytes())
	}
	fast := l.fast.valid(payload)
	if !fast {
		return false
	}
	doc, err := decode(payload)
	if err == nil {
		err = l.ref.Validate(doc)
	}
	if err != nil {
		t.Errorf("%s: fast path accepted %s; the reference says %v", l.name, payload, err)
	}
	return fast
}

// What each leaf's fast path must accept (so it is not uselessly strict) and
// must leave to the reference.
func TestFastLeaves(t *testing.T) {
	tests := map[string]struct{ accept, leave []string }{
		"uuid": {
			accept: []string{"7c9e6679-7425-40de-944b-e07fc1f90ae7", "7C9E6679-7425-40DE-944B-E07FC1F90AE7", "00000000-0000-0000-0000-000000000000"},
			leave:  []string{"", "7c9e6679742540de944be07fc1f90ae7", "7c9e6679-7425-40de-944b-e07fc1f90ae", "7c9e6679-7425-40de-944b-e07fc1f90ae7-", "7c9e667g-7425-40de-944b-e07fc1f90ae7", "7c9e6679+7425-40de-944b-e07fc1f90ae7"},
		},
		"date": {
			accept: []string{"2025-10-24", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31"},
			leave:  []string{"0000-01-01", "2025-02-29", "1900-02-29", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00", "25-10-24", "2025-1-24", "2025/10/24", "2025-10-24T00:00:00Z", "+025-10-24"},
		},
		"date-time": {
			accept: []string{"2025-10-24T14:00:00Z", "2025-10-24t14:00:00z", "2025-10-24T14:00:00.1+01:00", "2025-10-24T23:59:59.999999999-23:59", "2025-10-24T00:00:00+00:00"},
			leave:  []string{"2016-12-31T23:59:60Z", "2025-10-24T14:00:00", "2025-10-24T14:00:00.Z", "2025-10-24T14:00Z", "2025-10-24T14:00:00+0100", "2025-10-24T14:00:00+24:00", "2025-10-24T14:00:00+01:60", "2025-10-24T24:00:00Z", "2025-10-24T14:60:00Z", "2025-10-24 14:00:00Z", "2025-10-24T+1:00:00Z", "2025-10-24T14:00:00ZZ"},
		},
		"email": {
			accept: []string{"a@b", "john.doe@example.com", "o'brien+tag@mail.example.co.uk", "x-y_z~!#$%&*/=?^`{|}@a-b.c", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + ".com"},
			leave:  []string{"", "@example.com", "john@", "john", ".john@example.com", "john.@example.com", "jo..hn@example.com", `"john"@example.com`, "john@[127.0.0.1]", "john@example.com.", "john@-example.com", "john@example-.com", "john@ex_ample.com", "jöhn@example.com", "john@a@example.com", strings.Repeat("a", 65) + "@example.com", "john@" + strings.Repeat("b", 64) + ".com", "a@" + strings.Repeat("b.", 126) + "com"},
		},
		"lengths": {
			accept: []string{"ab", "abc", "éé", "😀😀😀", "a\x00"},
			leave:  []string{"a", "abcd", "😀😀😀😀", "xab", ""},
		},
		"number": {
			accept: []string{"0", "-0", "-1.5", "-1.50", "1e12", "1000000000000.0", "3500.25", "1e-400", "123456789012.5"},
			leave:  []string{"-1.6", "-2", "1000000000001", "123456789012345", "1e400", "1000000000000.0000001", "0.1234567890123456", `"1"`, "null", "01", "1.", ".5", "+1", "NaN"},
		},
		"positive": {
			accept: []string{"1e-300", "0.25", "0.4999999999"},
			leave:  []string{"0", "-0", "0.5", "1e-400"},
		},
		"integer": {
			accept: []string{"-5", "0", "1.0", "1e2", "900719925474099", "9.00719925474099e15", "-0.0"},
			leave:  []string{"-6", "1.5", "1e-2", "9007199254740992", "1e16", "true"},
		},
	}
	for _, l := range compileLeaves(t) {
		t.Run(l.name, func(t *testing.T) {
			tt, ok := tests[l.name]
			if !ok {
				t.Fatal("no test cases")
			}
			for _, s := range tt.accept {
				if !l.check(t, s) {
					t.Errorf("fast path left %q to the reference", s)
				}
			}
			for _, s := range tt.leave {
				if l.check(t, s) {
					t.Errorf("fast path accepted %q", s)
				}
			}
		})
	}
}

// FuzzFastLeaf checks the format and number checks one at a time against the
// reference: fast ⇒ reference valid.
func FuzzFastLeaf(f *testing.F) {
	leaves := compileLeaves(f)
	for i, s := range []string{
		"7c9e6679-7425-40de-944b-e07fc1f90ae7", "2024-02-29", "2016-12-31T22:59:60.5-01:00",
		"o'brien+tag@mail.example.co.uk", "é😀", "-1.5e0", "0.1", "9007199254740992e0",
	} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		leaves[int(which)%len(leaves)].check(t, s)
	})
}
