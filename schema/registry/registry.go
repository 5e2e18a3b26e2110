package registry

import (
	"context"
	"fmt"
	"strings"
)

// Registry is what Spine needs of a schema registry. Every method may do I/O
// and takes a context first. Implementations are safe for concurrent use.
type Registry interface {
	// Register stores schema under subject and returns its schema id. It is
	// idempotent: registering a schema already present under the subject
	// returns the existing id and creates no version.
	Register(ctx context.Context, subject string, schema []byte) (id int, err error)

	// Lookup returns the id and version under which this exact schema
	// (compared canonically) is registered in subject, or an error matching
	// ErrNotFound.
	Lookup(ctx context.Context, subject string, schema []byte) (SubjectSchema, error)

	// SchemaByID returns the schema with the given id, as a consumer does
	// with the id read from a record; ErrNotFound if there is none.
	SchemaByID(ctx context.Context, id int) (Schema, error)

	// SchemaByVersion returns version (1-based) of subject.
	SchemaByVersion(ctx context.Context, subject string, version int) (SubjectSchema, error)

	// Latest returns the newest version of subject.
	Latest(ctx context.Context, subject string) (SubjectSchema, error)

	// Versions returns the version numbers of subject in ascending order.
	Versions(ctx context.Context, subject string) ([]int, error)

	// Subjects returns every subject, sorted.
	Subjects(ctx context.Context) ([]string, error)

	// CheckCompatibility reports whether schema could be registered under
	// subject at the subject's compatibility level, checked against the
	// versions that level covers (all of them for *_TRANSITIVE levels). A
	// subject with no versions accepts any schema.
	CheckCompatibility(ctx context.Context, subject string, schema []byte) (CompatibilityResult, error)

	// Compatibility returns the level in force for subject: its own, or the
	// registry-wide default when it has none. The empty subject asks for the
	// registry-wide default.
	Compatibility(ctx context.Context, subject string) (CompatibilityLevel, error)

	// SetCompatibility sets the level of subject; the empty subject sets the
	// registry-wide default. A subject may be configured before its first
	// version is registered.
	SetCompatibility(ctx context.Context, subject string, level CompatibilityLevel) error
}

// Subject returns the value subject of topic under the TopicNameStrategy,
// "<topic>-value": the name Confluent serializers in every language derive,
// so a NestJS or Python consumer finds the schema without Spine's help.
func Subject(topic string) string { return topic + "-value" }

// SchemaType is the schema language of a registered schema.
type SchemaType string

// Schema types as the Confluent API names them. Spine registers only JSON;
// the others can appear when reading a registry shared with other systems.
const (
	TypeJSON     SchemaType = "JSON"
	TypeAvro     SchemaType = "AVRO"
	TypeProtobuf SchemaType = "PROTOBUF"
)

// Schema is a registered schema document.
type Schema struct {
	Type SchemaType
	// Text is the schema document. A Confluent registry holds the canonical
	// form (CanonicalJSON) of what Spine registered; Local returns the
	// catalog file as written. Compare with CanonicalJSON, not bytes.
	Text []byte
}

// SubjectSchema is a schema as registered under one subject.
type SubjectSchema struct {
	Subject string
	Version int // the registry's version number within Subject, from 1
	ID      int // the schema id, as carried in the wire format
	Schema
}

// CompatibilityResult is the answer of a compatibility check.
type CompatibilityResult struct {
	Compatible bool
	// Messages say why the schema is incompatible (or, for a compatible
	// schema, anything the registry chose to add). May be empty.
	Messages []string
}

// CompatibilityLevel is a Confluent compatibility level.
type CompatibilityLevel string

// The Confluent compatibility levels.
const (
	CompatNone               CompatibilityLevel = "NONE"
	CompatBackward           CompatibilityLevel = "BACKWARD"
	CompatBackwardTransitive CompatibilityLevel = "BACKWARD_TRANSITIVE"
	CompatForward            CompatibilityLevel = "FORWARD"
	CompatForwardTransitive  CompatibilityLevel = "FORWARD_TRANSITIVE"
	CompatFull               CompatibilityLevel = "FULL"
	CompatFullTransitive     CompatibilityLevel = "FULL_TRANSITIVE"
)

// GateLevel is the level Spine's compatibility gate enforces on the catalog:
// a consumer on any version reads events of every later version, so a
// service can be rolled back or lag behind without losing events.
const GateLevel = CompatBackwardTransitive

var levels = []CompatibilityLevel{
	CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
	CompatForwardTransitive, CompatFull, CompatFullTransitive,
}

// ParseCompatibilityLevel parses a level name, case-insensitively and with
// '-' accepted for '_', as typed on a command line ("backward-transitive").
func ParseCompatibilityLevel(s string) (CompatibilityLevel, error) {
	l := CompatibilityLevel(strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "_"))
	if err := l.Validate(); err != nil {
		return "", err
	}
	return l, nil
}

// Validate reports an error matching ErrInvalidLevel unless l is one of the
// Confluent levels.
func (l CompatibilityLevel) Validate() error {
	for _, k := range levels {
		if l == k {
			return nil
		}
	}
	return fmt.Errorf("registry: %w %q: want one of %v", ErrInvalidLevel, string(l), levels)
}
