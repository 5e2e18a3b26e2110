package compat

import "sort"

// refFacet resolves "$ref" within the document. Only local references are
// supported: a schema registry resolves others through its references list,
// which a single document does not carry.
func (l *loader) refFacet(m map[string]any, ptr string) (*schema, error) {
	at := child(ptr, "$ref")
	ref, ok := m["$ref"].(string)
	if !ok {
		return nil, l.fail(at, ErrNotSchema, "\"$ref\" must be a string, not %s", jsonKind(m["$ref"]))
	}
	segs, ok := parseFragment(ref)
	if !ok {
		return nil, l.fail(at, ErrUnsupported, "$ref %q: only references into the same document (\"#\" or \"#/...\") are supported", ref)
	}
	v, found := lookup(l.root, segs)
	if !found {
		return nil, l.fail(at, ErrNotSchema, "$ref %q points to nothing in the document", ref)
	}
	target, err := l.node(v, pointer(segs))
	if err != nil {
		return nil, err
	}
	return &schema{kind: kindRef, ptr: ptr, canon: "$ref:" + ref, ref: ref, target: target}, nil
}

// checkRefChains rejects $ref chains that never reach a schema, such as
// {"$ref": "#"}: comparing them would loop forever.
func (l *loader) checkRefChains() error {
	ptrs := make([]string, 0, len(l.nodes))
	for p, s := range l.nodes {
		if s.kind == kindRef {
			ptrs = append(ptrs, p)
		}
	}
	sort.Strings(ptrs)
	for _, p := range ptrs {
		s := l.nodes[p]
		for steps := 0; s.kind == kindRef; steps++ {
			if steps > len(l.nodes) {
				return l.fail(p, ErrNotSchema, "$ref %q is part of a cycle of references that never reaches a schema", l.nodes[p].ref)
			}
			s = s.target
		}
	}
	return nil
}
