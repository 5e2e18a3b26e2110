package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/inopsio/spine/catalog"
)

// Local is a Registry that serves exactly the schemas of a catalog, with ids
// from StableID. It never blocks and never changes after NewLocal, so it is
// safe for concurrent use; registering anything the catalog lacks fails with
// ErrReadOnly.
type Local struct {
	cat      *catalog.Catalog
	subjects map[string][]*localEntry // by subject; versions oldest first
	byID     map[int]*localEntry
	names    []string // subjects, sorted
	checker  CompatibilityChecker
}

type localEntry struct {
	ss        SubjectSchema
	sv        *catalog.SchemaVersion
	canonical []byte
}

// CompatibilityChecker decides whether candidate may follow history (the
// subject's versions, oldest first) at level. It lets Local check schemas
// that are not in the catalog with the compatibility gate's rules without
// this package depending on them.
type CompatibilityChecker func(level CompatibilityLevel, history [][]byte, candidate []byte) (CompatibilityResult, error)

// LocalOption configures NewLocal.
type LocalOption func(*Local)

// WithCompatibilityChecker makes CheckCompatibility run check for schemas
// that are not catalog versions. Without it such a check fails with an error
// matching errors.ErrUnsupported.
func WithCompatibilityChecker(check CompatibilityChecker) LocalOption {
	return func(l *Local) { l.checker = check }
}

// StableID is the schema id Local gives version (semver) of subject: the
// first four bytes of SHA-256("<subject>/<version>"), big-endian, with the
// sign bit cleared, and 1 in place of 0. Any process, in any language, with
// the same catalog computes the same ids, so a record written in embedded
// mode is readable by every other process without a shared registry. Ids are
// never reused across subjects or versions unless two collide, which
// NewLocal refuses.
func StableID(subject, version string) int {
	sum := sha256.Sum256([]byte(subject + "/" + version))
	id := int(binary.BigEndian.Uint32(sum[:4]) & 0x7fffffff)
	if id == 0 {
		return 1 // 0 is no valid schema id in the wire format's consumers
	}
	return id
}

// NewLocal indexes every schema version of cat. It fails if two versions get
// the same id or a catalog schema is not JSON.
func NewLocal(cat *catalog.Catalog, opts ...LocalOption) (*Local, error) {
	return newLocal(cat, StableID, opts...)
}

// newLocal takes the id function so tests can force a collision.
func newLocal(cat *catalog.Catalog, idOf func(subject, version string) int, opts ...LocalOption) (*Local, error) {
	l := &Local{cat: cat, subjects: map[string][]*localEntry{}, byID: map[int]*localEntry{}}
	for _, o := range opts {
		o(l)
	}
	for _, e := range cat.Events() {
		subject := Subject(e.Topic)
		for i, sv := range e.Versions {
			canon, err := CanonicalJSON(sv.Schema)
			if err != nil {
				return nil, fmt.Errorf("registry: local: %s: %w", sv.Path, err)
			}
			id := idOf(subject, sv.Version)
			if other, dup := l.byID[id]; dup {
				return nil, fmt.Errorf("registry: local: schema id %d of %s %s collides with %s %s: change the event's topic or version",
					id, subject, sv.Version, other.ss.Subject, other.sv.Version)
			}
			le := &localEntry{
				ss: SubjectSchema{
					Subject: subject, Version: i + 1, ID: id,
					Schema: Schema{Type: TypeJSON, Text: sv.Schema},
				},
				sv:        sv,
				canonical: canon,
			}
			l.byID[id] = le
			l.subjects[subject] = append(l.subjects[subject], le)
		}
		l.names = append(l.names, subject)
	}
	slices.Sort(l.names)
	return l, nil
}

// Catalog returns the catalog l serves.
func (l *Local) Catalog() *catalog.Catalog { return l.cat }

// CatalogVersion returns the catalog schema version that has schema id id:
// what a consumer in embedded mode needs to pick the validator.
func (l *Local) CatalogVersion(id int) (*catalog.SchemaVersion, error) {
	le, ok := l.byID[id]
	if !ok {
		return nil, fmt.Errorf("registry: local: schema id %d: %w in the catalog", id, ErrNotFound)
	}
	return le.sv, nil
}

// ID returns the schema id of version (semver) of the event named event:
// what a producer in embedded mode writes on the wire.
func (l *Local) ID(event, version string) (int, error) {
	e, err := l.cat.Event(event)
	if err != nil {
		return 0, fmt.Errorf("registry: local: %w: %w", ErrNotFound, err)
	}
	for _, le := range l.subjects[Subject(e.Topic)] {
		if le.sv.Version == version {
			return le.ss.ID, nil
		}
	}
	return 0, fmt.Errorf("registry: local: event %s version %s: %w in the catalog", event, version, ErrNotFound)
}

func (l *Local) entries(subject string) ([]*localEntry, error) {
	es, ok := l.subjects[subject]
	if !ok {
		return nil, fmt.Errorf("registry: local: subject %q: %w: no catalog event has this topic", subject, ErrNotFound)
	}
	return es, nil
}

// match returns the catalog version of subject whose canonical form equals
// schema's, or nil.
func (l *Local) match(subject string, schema []byte) (*localEntry, error) {
	es, err := l.entries(subject)
	if err != nil {
		return nil, err
	}
	canon, err := CanonicalJSON(schema)
	if err != nil {
		return nil, fmt.Errorf("registry: local: subject %q: %w", subject, err)
	}
	for _, le := range es {
		if bytes.Equal(le.canonical, canon) {
			return le, nil
		}
	}
	return nil, nil
}

// Register returns the id of the catalog version equal to schema. Anything
// else fails with ErrReadOnly: the local registry only knows the catalog.
func (l *Local) Register(_ context.Context, subject string, schema []byte) (int, error) {
	le, err := l.match(subject, schema)
	if errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("registry: local: cannot register under subject %q: %w: the local registry only knows the catalog, and no catalog event has this topic", subject, ErrReadOnly)
	}
	if err != nil {
		return 0, err
	}
	if le == nil {
		return 0, fmt.Errorf("registry: local: cannot register under subject %q: %w: the local registry only knows the catalog, and the schema equals none of the subject's catalog versions (add a version to catalog.yaml)", subject, ErrReadOnly)
	}
	return le.ss.ID, nil
}

// Lookup implements Registry.
func (l *Local) Lookup(_ context.Context, subject string, schema []byte) (SubjectSchema, error) {
	le, err := l.match(subject, schema)
	if err != nil {
		return SubjectSchema{}, err
	}
	if le == nil {
		return SubjectSchema{}, fmt.Errorf("registry: local: schema under subject %q: %w: it equals none of the subject's catalog versions", subject, ErrNotFound)
	}
	return le.ss, nil
}

// SchemaByID implements Registry.
func (l *Local) SchemaByID(_ context.Context, id int) (Schema, error) {
	le, ok := l.byID[id]
	if !ok {
		return Schema{}, fmt.Errorf("registry: local: schema id %d: %w in the catalog", id, ErrNotFound)
	}
	return le.ss.Schema, nil
}

// SchemaByVersion implements Registry.
func (l *Local) SchemaByVersion(_ context.Context, subject string, version int) (SubjectSchema, error) {
	es, err := l.entries(subject)
	if err != nil {
		return SubjectSchema{}, err
	}
	if version < 1 || version > len(es) {
		return SubjectSchema{}, fmt.Errorf("registry: local: subject %q version %d: %w (it has %d)", subject, version, ErrNotFound, len(es))
	}
	return es[version-1].ss, nil
}

// Latest implements Registry.
func (l *Local) Latest(_ context.Context, subject string) (SubjectSchema, error) {
	es, err := l.entries(subject)
	if err != nil {
		return SubjectSchema{}, err
	}
	return es[len(es)-1].ss, nil
}

// Versions implements Registry.
func (l *Local) Versions(_ context.Context, subject string) ([]int, error) {
	es, err := l.entries(subject)
	if err != nil {
		return nil, err
	}
	vs := make([]int, len(es))
	for i := range es {
		vs[i] = i + 1
	}
	return vs, nil
}

// Subjects implements Registry.
func (l *Local) Subjects(context.Context) ([]string, error) { return slices.Clone(l.names), nil }

// CheckCompatibility accepts every catalog version (the compatibility gate
// has checked the catalog at GateLevel); other schemas go to the
// CompatibilityChecker, if one was given.
func (l *Local) CheckCompatibility(_ context.Context, subject string, schema []byte) (CompatibilityResult, error) {
	le, err := l.match(subject, schema)
	if err != nil {
		return CompatibilityResult{}, err
	}
	if le != nil {
		return CompatibilityResult{Compatible: true}, nil
	}
	if l.checker == nil {
		return CompatibilityResult{}, fmt.Errorf("registry: local: subject %q: checking a schema that is not in the catalog needs a CompatibilityChecker: %w", subject, errors.ErrUnsupported)
	}
	es := l.subjects[subject]
	history := make([][]byte, len(es))
	for i, e := range es {
		history[i] = e.sv.Schema
	}
	res, err := l.checker(GateLevel, history, schema)
	if err != nil {
		return CompatibilityResult{}, fmt.Errorf("registry: local: subject %q: %w", subject, err)
	}
	return res, nil
}

// Compatibility returns GateLevel, the level the catalog is held to.
func (l *Local) Compatibility(_ context.Context, subject string) (CompatibilityLevel, error) {
	if subject != "" {
		if _, err := l.entries(subject); err != nil {
			return "", err
		}
	}
	return GateLevel, nil
}

// SetCompatibility accepts GateLevel, which is already in force, so that the
// same commands run against Local and a real registry; any other level fails
// with ErrReadOnly.
func (l *Local) SetCompatibility(_ context.Context, subject string, level CompatibilityLevel) error {
	if err := level.Validate(); err != nil {
		return err
	}
	if subject != "" {
		if _, err := l.entries(subject); err != nil {
			return err
		}
	}
	if level != GateLevel {
		return fmt.Errorf("registry: local: cannot set subject %q to %s: %w: the catalog is held to %s by the compatibility gate", subject, level, ErrReadOnly, GateLevel)
	}
	return nil
}

var _ Registry = (*Local)(nil)
