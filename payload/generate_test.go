package payload_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/internal/typegen"
)

// TestGeneratedUpToDate fails when the generated packages no longer match
// the catalog, so a schema change cannot ship without its Go types.
func TestGeneratedUpToDate(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	want, err := typegen.Generate(cat)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range want {
		got, err := os.ReadFile(filepath.FromSlash(name))
		switch {
		case err != nil:
			t.Errorf("payload/%s is missing (%v): run go generate ./payload", name, err)
		case !bytes.Equal(got, src):
			t.Errorf("payload/%s is stale (first difference at line %d): run go generate ./payload", name, firstDiffLine(got, src))
		}
	}
	onDisk, err := fs.Glob(os.DirFS("."), "*/*_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range onDisk {
		if _, ok := want[name]; !ok {
			t.Errorf("payload/%s is not generated from the catalog any more: run go generate ./payload", name)
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
