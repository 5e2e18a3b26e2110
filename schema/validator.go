package schema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
)

// DefaultMaxPayloadBytes bounds a payload before it is decoded. Spine's
// Kafka topics and producer are configured for this size plus headers
// (kafka.MaxMessageBytes), above Kafka's 1 MiB default.
const DefaultMaxPayloadBytes = 2 << 20

// Validator checks payloads and headers against a catalog. It is safe for
// concurrent use.
type Validator struct {
	cat      *catalog.Catalog
	schemas  map[versionKey]*compiled
	printer  *message.Printer
	maxBytes int
	// encrypted holds the variants with PII fields as ciphertext, compiled
	// on first use (encrypted.go).
	encrypted *encryptedSchemas
}

type versionKey struct{ event, version string }

// compiled is everything needed to check one schema version.
type compiled struct {
	ref *jsonschema.Schema // the reference 2020-12 validator; its errors are reported
	pii piiSet             // fields whose values never appear in a reason
	// keyField is the event's partition key: a required top-level string.
	keyField string
	// fast is the allocation-free fast path (fast.go): it can only say
	// "valid". nil if the schema is outside its subset.
	fast *fastChecker
}

// Option configures a Validator.
type Option func(*Validator)

// WithMaxPayloadBytes changes the size limit for payloads (default
// DefaultMaxPayloadBytes).
func WithMaxPayloadBytes(n int) Option { return func(v *Validator) { v.maxBytes = n } }

// NewValidator compiles every schema version in cat.
func NewValidator(cat *catalog.Catalog, opts ...Option) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range strictFormats {
		c.RegisterFormat(f)
	}
	v := &Validator{
		cat:      cat,
		schemas:  map[versionKey]*compiled{},
		printer:  message.NewPrinter(language.English),
		maxBytes: DefaultMaxPayloadBytes,
	}
	v.encrypted = &encryptedSchemas{}
	for _, o := range opts {
		o(v)
	}
	for _, e := range cat.Events() {
		for _, sv := range e.Versions {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sv.Schema))
			if err != nil {
				return nil, fmt.Errorf("schema: %s: %w", sv.Path, err)
			}
			url := "spine:///" + sv.Path
			if err := c.AddResource(url, doc); err != nil {
				return nil, fmt.Errorf("schema: add %s: %w", sv.Path, err)
			}
			s, err := c.Compile(url)
			if err != nil {
				return nil, fmt.Errorf("schema: compile %s: %w", sv.Path, err)
			}
			c := &compiled{ref: s, pii: newPIISet(sv.PII), fast: compileFast(doc), keyField: e.PartitionKey}
			if c.fast != nil {
				if p, ok := c.fast.root.props[e.PartitionKey]; ok && p.node.typ == fastString {
					c.fast.key = p.node
				}
			}
			v.schemas[versionKey{e.Name, sv.Version}] = c
		}
	}
	return v, nil
}

// Catalog returns the catalog the validator checks against.
func (v *Validator) Catalog() *catalog.Catalog { return v.cat }

// UnknownVersionError reports a schema version the catalog does not have.
type UnknownVersionError struct{ Event, Version string }

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("%s: unknown schema version %q", e.Event, e.Version)
}

// Validate checks payload against version of eventName ("" = the current
// version). A contract violation is an *event.ValidationError (errors.Is
// event.ErrInvalid) listing every violation with its JSON pointer; an unknown
// event or version is a *catalog.UnknownEventError or *UnknownVersionError.
func (v *Validator) Validate(eventName, version string, payload []byte) error {
	_, err := v.ValidateKey(eventName, version, payload)
	return err
}

// ValidateKey is Validate, also returning the value of the event's
// partition key (its catalog partition_key field, a required string), read
// during validation: publishing needs it and should not parse twice.
func (v *Validator) ValidateKey(eventName, version string, payload []byte) (string, error) {
	c, err := v.schema(eventName, version)
	if err != nil {
		return "", err
	}
	return v.validateKey(eventName, c, payload)
}

// validateKey is ValidateKey against the compiled schema c.
func (v *Validator) validateKey(eventName string, c *compiled, payload []byte) (string, error) {
	if len(payload) > v.maxBytes {
		return "", payloadError(eventName, "", fmt.Sprintf("payload is %d bytes, over the %d-byte limit", len(payload), v.maxBytes))
	}
	// The fast path proves validity (false means "ask the reference path").
	// The catalog guarantees every event a string partition key; a schema
	// whose key the fast path does not see goes the reference way.
	if c.fast != nil && c.fast.key != nil {
		if key, ok := c.fast.validKey(payload); ok {
			return key, nil
		}
	}
	doc, err := decode(payload)
	if err != nil {
		return "", payloadError(eventName, pointerOf(err), err.Error())
	}
	if err := v.check(eventName, c, doc); err != nil {
		return "", err
	}
	key, _ := doc.(map[string]any)[c.keyField].(string)
	return key, nil
}

func (v *Validator) schema(eventName, version string) (*compiled, error) {
	e, err := v.cat.Event(eventName)
	if err != nil {
		return nil, err
	}
	if version == "" {
		version = e.Current().Version
	}
	c, ok := v.schemas[versionKey{eventName, version}]
	if !ok {
		return nil, &UnknownVersionError{Event: eventName, Version: version}
	}
	return c, nil
}

func (v *Validator) check(eventName string, c *compiled, doc any) error {
	err := c.ref.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return payloadError(eventName, "", err.Error())
	}
	vs := v.violations(ve, c.pii, nil)
	slices.SortStableFunc(vs, func(a, b event.Violation) int { return strings.Compare(a.Pointer, b.Pointer) })
	vs = slices.Compact(vs)
	return &event.ValidationError{Event: eventName, Part: event.PartPayload, Violations: vs}
}

func payloadError(eventName, pointer, reason string) error {
	return &event.ValidationError{Event: eventName, Part: event.PartPayload,
		Violations: []event.Violation{{Pointer: pointer, Reason: reason}}}
}

// decode reads one JSON value strictly: no duplicate names, valid UTF-8,
// nothing after the value. Numbers decode to float64, as in JavaScript, the
// other main consumer of these events.
func decode(payload []byte) (any, error) {
	var doc any
	if err := jsonv2.Unmarshal(payload, &doc); err != nil {
		return nil, malformed(err)
	}
	return doc, nil
}

// malformed rewrites a decoder error into a reason that says where.
func malformed(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return &syntaxError{pointer: string(se.JSONPointer), offset: se.ByteOffset, cause: se.Err}
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

type syntaxError struct {
	pointer string
	offset  int64
	cause   error
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %v", e.offset, e.cause)
}

func pointerOf(err error) string {
	var se *syntaxError
	if errors.As(err, &se) {
		return se.pointer
	}
	return ""
}

// violations flattens the validator's error tree into leaf violations.
func (v *Validator) violations(e *jsonschema.ValidationError, pii piiSet, out []event.Violation) []event.Violation {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			out = v.violations(c, pii, out)
		}
		return out
	}
	return append(out, v.leaf(e, pii)...)
}

func (v *Validator) leaf(e *jsonschema.ValidationError, pii piiSet) []event.Violation {
	ptr := pointer(e.InstanceLocation)
	field := fieldName(e.InstanceLocation)
	if pii.covers(e.InstanceLocation) {
		if r := withheldReason(field, e.ErrorKind); r != "" {
			return []event.Violation{{Pointer: ptr, Reason: r}}
		}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]event.Violation, 0, len(k.Missing))
		for _, m := range k.Missing {
			loc := append(slices.Clone(e.InstanceLocation), m)
			out = append(out, event.Violation{Pointer: pointer(loc), Reason: fmt.Sprintf("%s is required", quoteField(loc))})
		}
		return out
	case *kind.Format:
		return []event.Violation{{Pointer: ptr, Reason: fmt.Sprintf("%s: %s is not a valid %s", field, clipValue(k.Got), k.Want)}}
	}
	return []event.Violation{{Pointer: ptr, Reason: clipReason(field + ": " + e.ErrorKind.LocalizedString(v.printer))}}
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointer builds an RFC 6901 JSON pointer.
func pointer(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(s))
	}
	return b.String()
}

// fieldName names the field a violation is about, for the reason text.
func fieldName(loc []string) string {
	if len(loc) == 0 {
		return "payload"
	}
	return quoteField(loc)
}

func quoteField(loc []string) string {
	var b strings.Builder
	for i, s := range loc {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func clipValue(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 66 {
		s = s[:64] + "…\""
	}
	return s
}
