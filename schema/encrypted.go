package schema

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Payloads on the wire carry their PII fields encrypted (package pii): each
// is a ciphertext string instead of, say, an e-mail address. A consumer
// without the tenant's keys (a router, the DLQ tooling, a consumer that
// never reads PII) still validates such a payload, against a variant of the
// schema in which every PII property accepts exactly the ciphertext form and
// nothing else: everything else is checked as usual, and a producer that
// forgot to encrypt is caught, because plaintext does not match.

// EncryptedPIIPattern is the pattern of a PII field's value in an encrypted
// payload: the ciphertext string of package pii (docs/wire-format.md, "PII
// encryption"): the prefix, a key version in canonical decimal, and base64url
// without padding of at least the 28 bytes of a nonce and a tag. It checks
// the form only; package pii's parser is stricter (canonical base64, version
// at most 2^31-1) and decryption proves authenticity.
const EncryptedPIIPattern = `^spine:pii:v1:(0|[1-9][0-9]{0,9}):[A-Za-z0-9_-]{38,}$`

// encryptedSchemas holds, per schema version with PII fields, the compiled
// variant for encrypted payloads. It is compiled once, on first use: most
// processes validate only plaintext (producers) or only ciphertext
// (consumers).
type encryptedSchemas struct {
	once    sync.Once
	schemas map[versionKey]*compiled
	err     error
}

// ValidateKeyEncrypted is ValidateKey for a payload whose PII fields are
// encrypted: every PII property must be a ciphertext string
// (EncryptedPIIPattern) instead of matching its own schema, and the rest of
// the payload is checked against the schema as usual. A PII field in
// plaintext is a violation at its pointer (its value withheld from the
// reason). For a schema version without PII it is ValidateKey.
func (v *Validator) ValidateKeyEncrypted(eventName, version string, payload []byte) (string, error) {
	c, err := v.schema(eventName, version)
	if err != nil {
		return "", err
	}
	if len(c.pii) == 0 {
		return v.validateKey(eventName, c, payload)
	}
	enc := v.encrypted
	enc.once.Do(func() { enc.schemas, enc.err = v.compileEncrypted() })
	if enc.err != nil {
		return "", enc.err
	}
	if version == "" {
		e, _ := v.cat.Lookup(eventName) // found by v.schema
		version = e.Current().Version
	}
	ec, ok := enc.schemas[versionKey{eventName, version}]
	if !ok { // cannot happen: every version with PII has a variant
		return "", fmt.Errorf("schema: %s %s: no encrypted variant", eventName, version)
	}
	return v.validateKey(eventName, ec, payload)
}

// compileEncrypted compiles the encrypted variant of every schema version
// with PII fields, in a compiler of its own: the variants keep their
// originals' $id.
func (v *Validator) compileEncrypted() (map[versionKey]*compiled, error) {
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	for _, f := range strictFormats {
		comp.RegisterFormat(f)
	}
	out := map[versionKey]*compiled{}
	for _, e := range v.cat.Events() {
		for _, sv := range e.Versions {
			if len(sv.PII) == 0 {
				continue
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sv.Schema))
			if err != nil {
				return nil, fmt.Errorf("schema: %s: %w", sv.Path, err)
			}
			for _, p := range sv.PII {
				if err := encryptedProperty(doc, p); err != nil {
					return nil, fmt.Errorf("schema: %s: %w", sv.Path, err)
				}
			}
			url := "spine:///encrypted/" + sv.Path
			if err := comp.AddResource(url, doc); err != nil {
				return nil, fmt.Errorf("schema: add encrypted %s: %w", sv.Path, err)
			}
			s, err := comp.Compile(url)
			if err != nil {
				return nil, fmt.Errorf("schema: compile encrypted %s: %w", sv.Path, err)
			}
			c := &compiled{ref: s, pii: newPIISet(sv.PII), fast: compileFast(doc), keyField: e.PartitionKey}
			if c.fast != nil {
				if p, ok := c.fast.root.props[e.PartitionKey]; ok && p.node.typ == fastString {
					c.fast.key = p.node
				}
			}
			out[versionKey{e.Name, sv.Version}] = c
		}
	}
	return out, nil
}

// encryptedProperty replaces the subschema of the PII property at the
// dotted path (properties of nested objects, as the catalog lists them) by
// one that accepts only a ciphertext string.
func encryptedProperty(doc any, path string) error {
	segs := strings.Split(path, ".")
	obj, _ := doc.(map[string]any)
	for i, seg := range segs {
		props, _ := obj["properties"].(map[string]any)
		sub, ok := props[seg].(map[string]any)
		if !ok {
			return fmt.Errorf("PII path %q is not a property of nested objects", path)
		}
		if i < len(segs)-1 {
			obj = sub
			continue
		}
		repl := map[string]any{
			"type":           "string",
			"pattern":        EncryptedPIIPattern,
			"confluent:tags": []any{"PII"},
		}
		if d, ok := sub["description"]; ok {
			repl["description"] = d
		}
		props[seg] = repl
	}
	return nil
}
