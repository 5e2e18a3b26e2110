package pii

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// node is one object level of a schema version's PII paths, so a payload
// is walked once and only where PII can be.
type node struct {
	children map[string]*node
	path     string // non-empty: this property is a PII field, with this path
}

// buildTree turns a schema version's dotted PII paths into a tree, checking
// each path against the schema's properties: a property name containing '.'
// would make a path ambiguous, and a path the walk cannot follow would leave
// a field in plaintext.
func buildTree(schemaJSON []byte, paths []string) (*node, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	var doc schemaProps
	if err := jsonv2.Unmarshal(schemaJSON, &doc); err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	root := &node{}
	for _, p := range paths {
		n, s := root, &doc
		for seg := range strings.SplitSeq(p, ".") {
			next, ok := s.Properties[seg]
			if !ok || n.path != "" {
				return nil, fmt.Errorf("PII path %q does not name a property of nested objects", p)
			}
			s = &next
			child := n.children[seg]
			if child == nil {
				child = &node{}
				if n.children == nil {
					n.children = map[string]*node{}
				}
				n.children[seg] = child
			}
			n = child
		}
		if len(n.children) > 0 || n.path != "" {
			return nil, fmt.Errorf("PII path %q is listed twice or has PII fields inside it", p)
		}
		n.path = p
	}
	return root, nil
}

// schemaProps is the part of a JSON Schema buildTree follows.
type schemaProps struct {
	Properties map[string]schemaProps `json:"properties"`
}

// span is where one PII value lies in a payload: the raw JSON value bytes
// payload[start:end], of kind kind.
type span struct {
	start, end int
	kind       jsontext.Kind
	field      *node
}

// state is the per-call working memory, pooled per Cipher: a
// jsontext.Decoder keeps its stacks between Resets, so a pooled one decodes
// without allocating.
type state struct {
	in     bytes.Buffer // aliases the payload, never written
	dec    jsontext.Decoder
	spans  []span
	name   []byte // unescaped member names
	text   []byte // unescaped string values
	plain  []byte // decrypted values
	sealed []byte // nonce || ciphertext || tag
	aad    []byte
}

// maxRetained bounds the scratch memory a pooled state keeps.
const maxRetained = 64 << 10

// reset forgets the payload and wipes plaintext from the scratch buffers
// before the state goes back to the pool.
func (st *state) reset() {
	st.in = bytes.Buffer{}
	st.dec.Reset(&st.in)
	st.spans = st.spans[:0]
	for _, b := range []*[]byte{&st.name, &st.text, &st.plain, &st.sealed, &st.aad} {
		clear((*b)[:cap(*b)])
		if cap(*b) > maxRetained {
			*b = nil
		}
	}
	if cap(st.spans) > 1024 {
		st.spans = nil
	}
}

// scan checks that payload is one strict JSON object (the decoder's
// defaults: valid UTF-8, no duplicate names, nothing after it) and records
// in st.spans, in payload order, every value at a PII path of root.
func (st *state) scan(payload []byte, root *node) error {
	st.in = *bytes.NewBuffer(payload) // parsed in place, not copied
	st.dec.Reset(&st.in)
	st.spans = st.spans[:0]
	if st.dec.PeekKind() != '{' {
		_, err := st.dec.ReadToken()
		return invalidPayload(err)
	}
	if err := st.object(root); err != nil {
		return invalidPayload(err)
	}
	if _, err := st.dec.ReadToken(); err != io.EOF {
		return invalidPayload(err)
	}
	return nil
}

func (st *state) object(n *node) error {
	if _, err := st.dec.ReadToken(); err != nil { // '{'
		return err
	}
	for st.dec.PeekKind() != '}' {
		raw, err := st.dec.ReadValue() // a name; the decoder rejects duplicates
		if err != nil {
			return err
		}
		name := []byte(raw[1 : len(raw)-1])
		if bytes.IndexByte(name, '\\') >= 0 {
			st.name, _ = jsontext.AppendUnquote(st.name[:0], raw) // the decoder checked it
			name = st.name
		}
		child := n.children[string(name)]
		switch {
		case child == nil:
			err = st.dec.SkipValue() // still checked: syntax, UTF-8, duplicates
		case child.path != "":
			kind := st.dec.PeekKind()
			var v jsontext.Value
			if v, err = st.dec.ReadValue(); err == nil {
				end := int(st.dec.InputOffset())
				st.spans = append(st.spans, span{start: end - len(v), end: end, kind: kind, field: child})
			}
		case st.dec.PeekKind() == '{':
			err = st.object(child)
		default: // not an object where the schema has one: the validator's business
			err = st.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	_, err := st.dec.ReadToken() // '}'
	return err
}

// unquote returns the content of a raw JSON string the decoder has checked:
// a slice of it when it has no escapes, else the unescaped text in st.text.
func (st *state) unquote(raw []byte) []byte {
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 {
		return body
	}
	st.text, _ = jsontext.AppendUnquote(st.text[:0], raw)
	return st.text
}

// invalidPayload wraps a decoder error in ErrInvalidPayload with its
// position, leaving out the decoder's message: it can quote payload bytes.
func invalidPayload(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: at byte %d (%q)", ErrInvalidPayload, se.ByteOffset, se.JSONPointer)
	}
	return fmt.Errorf("%w: not an object, or data after it", ErrInvalidPayload)
}
