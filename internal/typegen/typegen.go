// Package typegen generates the typed Go payloads under payload/ from the
// event catalog: one package per category, one struct per event, built from
// the event's current JSON Schema.
//
// Only a subset of JSON Schema is understood (see keywords in schema.go);
// anything else fails generation with a *SchemaError naming the event,
// version and JSON pointer, because a struct that quietly disagrees with its
// schema would let producers publish payloads the registry rejects.
package typegen

import (
	"errors"
	"fmt"
	"path"

	"github.com/inopsio/spine/catalog"
)

// Categories are the packages generated under payload/, in this order.
// Every category gets its package even while it has no events, so imports
// do not break as the catalog grows or shrinks.
var Categories = []catalog.Category{
	catalog.Core, catalog.CRM, catalog.ERP, catalog.Workflow,
	catalog.InoSec, catalog.Analytics, catalog.Bridge,
}

// SchemaError reports a schema typegen cannot turn into Go.
type SchemaError struct {
	Event   string
	Version string
	Pointer string // RFC 6901 pointer into the schema document; "" is its root
	Problem string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("typegen: %s v%s at #%s: %s", e.Event, e.Version, e.Pointer, e.Problem)
}

// FilePath returns where the file of category c goes, relative to the
// payload directory: crm/crm_gen.go.
func FilePath(c catalog.Category) string {
	return path.Join(string(c), string(c)+"_gen.go")
}

// Generate returns the gofmt'ed source of every payload package, keyed by
// FilePath. Events keep catalog order and fields schema order, so the output
// only changes when the catalog does. Every schema problem is reported, not
// just the first, joined into one error.
func Generate(cat *catalog.Catalog) (map[string][]byte, error) {
	files := map[string]*goFile{}
	for _, c := range Categories {
		files[string(c)] = &goFile{
			Header:  Header,
			Package: string(c),
			Import:  payloadImport,
			Doc: docLines(0, fmt.Sprintf("Package %s holds the typed payloads of the Spine catalog's %s events, "+
				"generated from each event's current schema version.", c, c)),
		}
	}
	var errs []error
	owners := map[string]map[string]string{} // package → Go name → event that declares it
	for _, e := range cat.Events() {
		f, ok := files[string(e.Category)]
		if !ok {
			errs = append(errs, fmt.Errorf("typegen: %s: category %q has no payload package", e.Name, e.Category))
			continue
		}
		sv := e.Current()
		ge, needTime, err := generateEvent(e.Name, sv.Version, sv.Schema)
		if err == nil {
			err = claimNames(owners, f.Package, ge)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.NeedTime = f.NeedTime || needTime
		f.Events = append(f.Events, ge)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make(map[string][]byte, len(files))
	for _, c := range Categories {
		src, err := render(files[string(c)])
		if err != nil {
			return nil, err
		}
		out[FilePath(c)] = src
	}
	return out, nil
}

// generateEvent parses and checks one schema document and builds its Go
// declarations; problems come back as *SchemaError.
func generateEvent(name, version string, schema []byte) (*goEvent, bool, error) {
	ge, needTime, err := func() (*goEvent, bool, error) {
		doc, err := decodeOrdered(schema)
		if err != nil {
			return nil, false, err
		}
		root, err := parseSchema(doc, "", true)
		if err != nil {
			return nil, false, err
		}
		return buildEvent(name, version, root)
	}()
	var pe *pointerError
	if errors.As(err, &pe) {
		return nil, false, &SchemaError{Event: name, Version: version, Pointer: pe.ptr, Problem: pe.problem}
	}
	return ge, needTime, err
}

// claimNames records the package-level names ge declares and fails if
// one is already declared, by another event of the package, by this one
// (FooBar.baz and Foo.bar_baz both make FooBarBaz) or as New.
func claimNames(owners map[string]map[string]string, pkg string, ge *goEvent) error {
	names := owners[pkg]
	if names == nil {
		names = map[string]string{"New": "the generated New function"}
		owners[pkg] = names
	}
	claim := func(name, ptr string) error {
		if other, dup := names[name]; dup {
			return &SchemaError{Event: ge.Name, Version: ge.Version, Pointer: ptr,
				Problem: fmt.Sprintf("Go name %s.%s is already declared by %s", pkg, name, other)}
		}
		names[name] = fmt.Sprintf("%s at #%s", ge.Name, ptr)
		return nil
	}
	for _, d := range ge.Decls {
		if err := claim(d.Name, d.ptr); err != nil {
			return err
		}
		for i, c := range d.Consts {
			if err := claim(c.Name, index(child(d.ptr, "enum"), i)); err != nil {
				return err
			}
		}
	}
	return nil
}
