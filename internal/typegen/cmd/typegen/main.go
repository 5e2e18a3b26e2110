// Command typegen writes the typed payload packages generated from the
// embedded event catalog. It runs from payload/doc.go's go:generate line:
//
//	go generate ./payload
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/internal/typegen"
)

func main() {
	out := flag.String("out", ".", "the payload directory to write into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(out string) error {
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	files, err := typegen.Generate(cat)
	if err != nil {
		return err
	}
	for name, src := range files {
		p := filepath.Join(out, filepath.FromSlash(name))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, src) {
			continue // leave mtimes alone so builds stay cached
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, src, 0o644); err != nil {
			return err
		}
	}
	return removeStale(out, files)
}

// removeStale deletes generated files typegen no longer produces, e.g.
// after a category is renamed; only files carrying typegen's header are
// touched, never hand-written ones.
func removeStale(out string, files map[string][]byte) error {
	found, err := fs.Glob(os.DirFS(out), "*/*_gen.go")
	if err != nil {
		return err
	}
	for _, name := range found {
		if _, keep := files[name]; keep {
			continue
		}
		p := filepath.Join(out, filepath.FromSlash(name))
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(src, []byte(typegen.Header+"\n")) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
