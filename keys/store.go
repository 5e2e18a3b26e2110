package keys

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Store keeps wrapped DEKs. Implementations are safe for concurrent use,
// and those meant to be shared (FileStore, PostgresStore) are also safe
// across processes: Insert is atomic, so two processes never both create
// one version.
type Store interface {
	// Versions returns the tenant's records, oldest version first; none
	// (and no error) for a tenant without keys.
	Versions(ctx context.Context, tenant string) ([]Record, error)
	// Version returns one record, or an error wrapping ErrUnknownVersion.
	Version(ctx context.Context, tenant string, version int) (Record, error)
	// Insert adds rec unless a record with its tenant and version exists,
	// and reports whether it did.
	Insert(ctx context.Context, rec Record) (bool, error)
	// Shred destroys the wrapped DEK of each of the tenant's versions that
	// still has one, marking it shredded at at, and returns those versions in order.
	Shred(ctx context.Context, tenant string, at time.Time) ([]int, error)
	// Rewrap replaces the KEK ID and wrapped DEK of the record (old.Tenant,
	// old.Version) by kek and wrapped, atomically, if it still holds
	// old.KEK and old.Wrapped: a compare-and-swap, so that a rewrap never
	// undoes a concurrent change. It fails with ErrShredded if the record
	// is a tombstone (a rewrap must never resurrect a shredded key), with
	// ErrConflict if it holds another wrapped key, with ErrUnknownVersion if
	// it does not exist; then nothing is written.
	Rewrap(ctx context.Context, old Record, kek string, wrapped []byte) error
	// All returns every record, by tenant then version.
	All(ctx context.Context) ([]Record, error)
	// Close releases the store.
	Close() error
}

// MemoryStore is a Store in memory, for tests and single-process tools; a
// copy of its keys lives only as long as the process.
type MemoryStore struct {
	mu      sync.Mutex
	tenants map[string][]Record // by version
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{tenants: map[string][]Record{}} }

// Versions implements Store.
func (m *MemoryStore) Versions(_ context.Context, tenant string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneRecords(m.tenants[tenant]), nil
}

// Version implements Store.
func (m *MemoryStore) Version(_ context.Context, tenant string, version int) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return findVersion(m.tenants[tenant], tenant, version)
}

// Insert implements Store.
func (m *MemoryStore) Insert(_ context.Context, rec Record) (bool, error) {
	if err := rec.check(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, ok := insertRecord(m.tenants[rec.Tenant], rec)
	m.tenants[rec.Tenant] = recs
	return ok, nil
}

// Shred implements Store.
func (m *MemoryStore) Shred(_ context.Context, tenant string, at time.Time) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return shredRecords(m.tenants[tenant], at), nil
}

// Rewrap implements Store.
func (m *MemoryStore) Rewrap(_ context.Context, old Record, kek string, wrapped []byte) error {
	if err := checkRewrap(old, kek, wrapped); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return rewrapRecord(m.tenants[old.Tenant], old, kek, wrapped)
}

// All implements Store.
func (m *MemoryStore) All(context.Context) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, recs := range m.tenants {
		out = append(out, cloneRecords(recs)...)
	}
	sortRecords(out)
	return out, nil
}

// Close implements Store.
func (m *MemoryStore) Close() error { return nil }

// The helpers below are shared by MemoryStore and FileStore, which both
// keep a tenant's records as a slice sorted by version.

func findVersion(recs []Record, tenant string, version int) (Record, error) {
	i, ok := slices.BinarySearchFunc(recs, version, func(r Record, v int) int { return cmp.Compare(r.Version, v) })
	if !ok {
		return Record{}, fmt.Errorf("%w: tenant %q has no version %d", ErrUnknownVersion, tenant, version)
	}
	return cloneRecord(recs[i]), nil
}

func insertRecord(recs []Record, rec Record) ([]Record, bool) {
	i, found := slices.BinarySearchFunc(recs, rec.Version, func(r Record, v int) int { return cmp.Compare(r.Version, v) })
	if found {
		return recs, false
	}
	return slices.Insert(recs, i, cloneRecord(rec)), true
}

// shredRecords tombstones recs in place and returns the versions it
// destroyed. The wrapped bytes are overwritten before they are dropped.
func shredRecords(recs []Record, at time.Time) []int {
	var out []int
	for i := range recs {
		if recs[i].IsShredded() {
			continue
		}
		clear(recs[i].Wrapped)
		recs[i].Wrapped, recs[i].KEK, recs[i].Shredded = nil, "", at.UTC()
		out = append(out, recs[i].Version)
	}
	return out
}

// checkRewrap is what every store requires of a Rewrap's arguments.
func checkRewrap(old Record, kek string, wrapped []byte) error {
	if err := checkTenant(old.Tenant); err != nil {
		return err
	}
	switch {
	case len(old.Wrapped) == 0:
		return fmt.Errorf("keys: rewrap tenant %q version %d: the record read holds no wrapped key", old.Tenant, old.Version)
	case kek == "" || len(wrapped) == 0:
		return fmt.Errorf("keys: rewrap tenant %q version %d: no KEK ID or no wrapped key", old.Tenant, old.Version)
	}
	return nil
}

// rewrapRecord swaps the wrapping of old's record in recs, in place, if it
// still holds old's (the compare of Store.Rewrap).
func rewrapRecord(recs []Record, old Record, kek string, wrapped []byte) error {
	i, ok := slices.BinarySearchFunc(recs, old.Version, func(r Record, v int) int { return cmp.Compare(r.Version, v) })
	if !ok {
		return fmt.Errorf("%w: tenant %q has no version %d", ErrUnknownVersion, old.Tenant, old.Version)
	}
	if err := compareForRewrap(recs[i], old); err != nil {
		return err
	}
	clear(recs[i].Wrapped)
	recs[i].KEK, recs[i].Wrapped = kek, slices.Clone(wrapped)
	return nil
}

// compareForRewrap says why cur, the stored record, may not be rewrapped
// in place of old, the record read: nil when it may.
func compareForRewrap(cur, old Record) error {
	switch {
	case cur.IsShredded():
		return fmt.Errorf("%w: tenant %q version %d was shredded at %s; not rewrapped",
			ErrShredded, cur.Tenant, cur.Version, cur.Shredded.Format(time.RFC3339))
	case cur.KEK != old.KEK || !bytes.Equal(cur.Wrapped, old.Wrapped):
		return fmt.Errorf("%w: tenant %q version %d is now wrapped by %q, not as read; not rewrapped",
			ErrConflict, cur.Tenant, cur.Version, cur.KEK)
	}
	return nil
}

func sortRecords(recs []Record) {
	slices.SortFunc(recs, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Version, b.Version))
	})
}

func cloneRecord(r Record) Record {
	r.Wrapped = slices.Clone(r.Wrapped)
	return r
}

func cloneRecords(recs []Record) []Record {
	if len(recs) == 0 {
		return nil
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = cloneRecord(r)
	}
	return out
}
