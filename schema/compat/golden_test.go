package compat

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expectations in testdata/diff/*.json from the current output")

// goldenCase is one schema pair of testdata/diff/*.json, with what Diff must
// report in each direction. Every difference type appears in at least one
// case (TestEveryTypeIsCovered).
type goldenCase struct {
	Description string          `json:"description"`
	Old         json.RawMessage `json:"old"`
	New         json.RawMessage `json:"new"`
	OldToNew    *expectation    `json:"old_to_new"`
	NewToOld    *expectation    `json:"new_to_old"`
}

// expectation: the exact differences under Strict ("TYPE /pointer"), the
// differences under Lenient where they differ, and the verdict per policy.
type expectation struct {
	Changes        []string `json:"changes"`
	LenientChanges []string `json:"lenient_changes,omitempty"`
	Strict         bool     `json:"strict"`
	Lenient        bool     `json:"lenient"`
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "diff", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

func readGolden(t *testing.T, file string) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cases
}

// observe computes what the implementation says about old -> new.
func observe(t *testing.T, oldDoc, newDoc []byte) *expectation {
	t.Helper()
	e := &expectation{}
	verdicts := map[Policy]*bool{Strict: &e.Strict, Lenient: &e.Lenient}
	for _, p := range policies {
		diffs, err := DiffPolicy(p, oldDoc, newDoc)
		if err != nil {
			t.Fatalf("DiffPolicy(%s): %v", p, err)
		}
		lines := make([]string, len(diffs))
		ok := true
		for i, d := range diffs {
			lines[i] = d.String()
			ok = ok && d.Type.IsCompatible(p)
		}
		slices.Sort(lines)
		*verdicts[p] = ok
		if p == Strict {
			e.Changes = lines
		} else if !slices.Equal(lines, e.Changes) {
			e.LenientChanges = lines
		}
	}
	if e.Changes == nil {
		e.Changes = []string{}
	}
	return e
}

func TestGolden(t *testing.T) {
	for _, file := range goldenFiles(t) {
		cases := readGolden(t, file)
		for i := range cases {
			c := &cases[i]
			t.Run(filepath.Base(file)+"/"+c.Description, func(t *testing.T) {
				for _, dir := range []struct {
					name           string
					oldDoc, newDoc []byte
					want           **expectation
				}{
					{"old_to_new", c.Old, c.New, &c.OldToNew},
					{"new_to_old", c.New, c.Old, &c.NewToOld},
				} {
					got := observe(t, dir.oldDoc, dir.newDoc)
					if *update {
						*dir.want = got
						continue
					}
					want := *dir.want
					if want == nil {
						t.Fatalf("%s: no expectation; run go test -update", dir.name)
					}
					if want.Changes == nil {
						want.Changes = []string{}
					}
					if !slices.Equal(got.Changes, want.Changes) {
						t.Errorf("%s: Strict changes\n got %q\nwant %q", dir.name, got.Changes, want.Changes)
					}
					if !slices.Equal(got.LenientChanges, want.LenientChanges) {
						t.Errorf("%s: Lenient changes\n got %q\nwant %q", dir.name, got.LenientChanges, want.LenientChanges)
					}
					if got.Strict != want.Strict || got.Lenient != want.Lenient {
						t.Errorf("%s: compatible strict=%v lenient=%v, want strict=%v lenient=%v",
							dir.name, got.Strict, got.Lenient, want.Strict, want.Lenient)
					}
					checkAgrees(t, dir.name, c.Old, c.New, want)
				}
			})
		}
		if *update {
			writeGolden(t, file, cases)
		}
	}
}

// checkAgrees: Check at BACKWARD judges old -> new and at FORWARD new -> old,
// so its verdicts must match the golden ones.
func checkAgrees(t *testing.T, dir string, oldDoc, newDoc []byte, want *expectation) {
	t.Helper()
	level := Backward
	if dir == "new_to_old" {
		level = Forward
	}
	for p, compatible := range map[Policy]bool{Strict: want.Strict, Lenient: want.Lenient} {
		res, err := Check(level, p, [][]byte{oldDoc}, newDoc)
		if err != nil {
			t.Fatalf("Check(%s, %s): %v", level, p, err)
		}
		if res.Compatible != compatible {
			t.Errorf("Check(%s, %s).Compatible = %v, want %v (problems %v)", level, p, res.Compatible, compatible, res.Lines())
		}
	}
}

func writeGolden(t *testing.T, file string, cases []goldenCase) {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, c := range cases {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, b, "  ", "  "); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("  ")
		buf.Write(out.Bytes())
		if i < len(cases)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// declaredTypeValues maps every Type constant declared in types.go, read from
// the source so that a type added later cannot escape the coverage check.
func declaredTypeValues(t *testing.T) map[Type]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[Type]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[Type(v)] = name.Name
			}
		}
	}
	return out
}

// TestEveryTypeIsCovered: each difference type Diff can report appears in
// some golden case, so the table exercises every rule in both directions
// and under both policies.
func TestEveryTypeIsCovered(t *testing.T) {
	seen := map[Type]bool{}
	for _, file := range goldenFiles(t) {
		for _, c := range readGolden(t, file) {
			for _, e := range []*expectation{c.OldToNew, c.NewToOld} {
				if e == nil {
					continue
				}
				for _, l := range slices.Concat(e.Changes, e.LenientChanges) {
					typ, _, _ := bytes.Cut([]byte(l), []byte(" "))
					seen[Type(typ)] = true
				}
			}
		}
	}
	declared := declaredTypeValues(t)
	if len(declared) < 100 {
		t.Fatalf("read only %d types from types.go", len(declared))
	}
	for typ, name := range declared {
		if typ == PropertyAddedToOpenContentModel {
			continue // deprecated: never reported, only classified
		}
		if !seen[typ] {
			t.Errorf("%s (%s) appears in no golden case", name, typ)
		}
	}
	for typ := range seen {
		if _, ok := declared[typ]; !ok {
			t.Errorf("golden files mention unknown type %s", typ)
		}
	}
}
