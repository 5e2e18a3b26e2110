package typegen

import (
	"fmt"
	"strconv"
)

// goEvent is what one event contributes to its category's file.
type goEvent struct {
	Name    string // catalog name, e.g. lead.created
	Version string // current schema version
	Type    string // Go type of the payload, the schema title
	Decls   []decl // the payload struct first, then the types it uses
}

// decl is a generated named type: a struct or a string enum.
type decl struct {
	Name   string
	Doc    []string  // comment lines, "//" included
	Fields []goField // structs
	Consts []goConst // enums; a decl with Consts is an enum
	IsRoot bool      // the payload type, which gets the Payload methods
	ptr    string    // JSON pointer of the schema it comes from
}

type goField struct {
	Name string
	Type string
	Tag  string
	Doc  []string
}

type goConst struct {
	Name  string
	Value string // Go string literal
}

// builder turns the checked schema of one event into Go declarations.
type builder struct {
	event string
	decls []decl
	time  bool // a field uses time.Time
}

// buildEvent builds the declarations of event name's payload from its
// parsed current schema.
func buildEvent(name, version string, root *node) (*goEvent, bool, error) {
	if root.title == "" {
		return nil, false, errAt(root.ptr, `"title" is required: it names the Go type`)
	}
	if goName(root.title) != root.title {
		return nil, false, errAt(child(root.ptr, "title"), "title %q is not a PascalCase Go name (like %q)", root.title, goName(root.title))
	}
	b := &builder{event: name}
	doc := docLines(0,
		fmt.Sprintf("%s is the payload of %s, schema version %s.", root.title, name, version),
		root.description)
	if err := b.structType(root.title, "", doc, root, true); err != nil {
		return nil, false, err
	}
	return &goEvent{Name: name, Version: version, Type: root.title, Decls: b.decls}, b.time, nil
}

// structType declares the struct name for object schema n, found at path
// in the payload ("" for the payload itself, else e.g. "contact.address" or
// "items[]"). Its nested types follow it in property order, so a reader
// meets each one right after its first use.
func (b *builder) structType(name, path string, doc []string, n *node, isRoot bool) error {
	i := len(b.decls)
	b.decls = append(b.decls, decl{Name: name, Doc: doc, IsRoot: isRoot, ptr: n.ptr})
	var fields []goField
	seen := map[string]string{}
	for _, p := range n.props {
		at := p.schema.ptr
		if !propertyNameRE.MatchString(p.name) {
			return errAt(at, "property name %q cannot become a Go field name (want a letter, then letters, digits, _ or -)", p.name)
		}
		f := goField{Name: goName(p.name)}
		if other, dup := seen[f.Name]; dup {
			return errAt(at, "properties %q and %q both become Go field %s", other, p.name, f.Name)
		}
		if isRoot && (f.Name == "EventName" || f.Name == "SchemaVersion") {
			return errAt(at, "property %q would become field %s, which clashes with the payload.Payload method", p.name, f.Name)
		}
		seen[f.Name] = p.name
		t, err := b.goType(name+f.Name, dotted(path, p.name), p.schema)
		if err != nil {
			return err
		}
		f.Type, f.Tag = fieldType(t, p)
		f.Doc = fieldDoc(p.schema)
		fields = append(fields, f)
	}
	b.decls[i].Fields = fields
	return nil
}

// fieldType returns a property's Go type and struct tag. Optional scalars
// and nested objects are pointers so that absent differs from zero; slices
// already have nil for that.
func fieldType(t string, p *property) (string, string) {
	tag := p.name
	if !p.required {
		tag += ",omitempty"
		if p.schema.typ != "array" {
			t = "*" + t
		}
	}
	return t, "`json:" + strconv.Quote(tag) + "`"
}

// goType returns the Go type of schema n, declaring the named type name
// when n is an object or a string enum. what is n's place in the payload
// for doc comments, as a path with [] for array elements: items[].sku.
func (b *builder) goType(name, what string, n *node) (string, error) {
	switch n.typ {
	case "integer":
		return "int64", nil
	case "number":
		return "float64", nil
	case "boolean":
		return "bool", nil
	case "string":
		if n.format == "date-time" {
			if n.enum != nil {
				return "", errAt(n.ptr, "enum and format date-time cannot be combined")
			}
			b.time = true
			return "time.Time", nil
		}
		if n.enum != nil {
			return name, b.enumType(name, what, n)
		}
		return "string", nil
	case "array":
		t, err := b.goType(singular(name), what+"[]", n.items)
		return "[]" + t, err
	}
	doc := docLines(0, fmt.Sprintf("%s is the object at %s in %s.", name, what, b.event), n.description)
	return name, b.structType(name, what, doc, n, false)
}

func (b *builder) enumType(name, what string, n *node) error {
	d := decl{
		Name: name,
		ptr:  n.ptr,
		Doc: docLines(0,
			fmt.Sprintf("%s enumerates the values of %s in %s.", name, what, b.event),
			n.description),
	}
	seen := map[string]string{}
	for i, v := range n.enum {
		c := goName(v)
		if c == "" {
			return errAt(index(child(n.ptr, "enum"), i), "enum value %q has no letters or digits to name a Go constant", v)
		}
		if other, dup := seen[c]; dup {
			return errAt(index(child(n.ptr, "enum"), i), "enum values %q and %q both become constant %s%s", other, v, name, c)
		}
		seen[c] = v
		d.Consts = append(d.Consts, goConst{Name: name + c, Value: strconv.Quote(v)})
	}
	b.decls = append(b.decls, d)
	return nil
}

// fieldDoc documents a field with its description and, for PII, how it
// travels, so a reader of the struct knows not to log it.
func fieldDoc(n *node) []string {
	text := n.description
	if n.pii {
		if text != "" {
			text += " "
		}
		text += "PII: tagged so in the schema (confluent:tags)."
	}
	return docLines(1, text)
}

// dotted joins property names into a path, the way the catalog names PII
// fields: contact.email.
func dotted(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
