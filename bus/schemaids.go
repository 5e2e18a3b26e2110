package bus

import (
	"context"
	"fmt"
	"sync"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/registry"
)

// SchemaIDs maps catalog schema versions to the ids written on the wire.
type SchemaIDs interface {
	// SchemaID returns the id of version of event.
	SchemaID(ctx context.Context, event, version string) (int, error)
	// SchemaVersion returns the catalog version an id stands for.
	SchemaVersion(ctx context.Context, id int) (*catalog.SchemaVersion, error)
}

// RegistryIDs resolves ids through a schema registry and caches both
// directions: ids never change once assigned.
type RegistryIDs struct {
	reg registry.Registry
	cat *catalog.Catalog

	mu    sync.RWMutex
	ids   map[*catalog.SchemaVersion]int
	byID  map[int]*catalog.SchemaVersion
	canon map[string]*catalog.SchemaVersion // canonical schema text → version
}

// NewRegistryIDs resolves ids for cat's schemas through reg.
func NewRegistryIDs(reg registry.Registry, cat *catalog.Catalog) (*RegistryIDs, error) {
	r := &RegistryIDs{reg: reg, cat: cat, ids: map[*catalog.SchemaVersion]int{},
		byID: map[int]*catalog.SchemaVersion{}, canon: map[string]*catalog.SchemaVersion{}}
	for _, e := range cat.Events() {
		for _, sv := range e.Versions {
			c, err := registry.CanonicalJSON(sv.Schema)
			if err != nil {
				return nil, fmt.Errorf("schema ids: %s: %w", sv.Path, err)
			}
			r.canon[string(c)] = sv
		}
	}
	return r, nil
}

// SchemaID looks the version up under its topic's subject.
func (r *RegistryIDs) SchemaID(ctx context.Context, eventName, version string) (int, error) {
	e, err := r.cat.Event(eventName)
	if err != nil {
		return 0, err
	}
	sv := e.Version(version)
	if sv == nil {
		return 0, fmt.Errorf("schema id of %s: unknown version %q", eventName, version)
	}
	r.mu.RLock()
	id, ok := r.ids[sv]
	r.mu.RUnlock()
	if ok {
		return id, nil
	}
	ss, err := r.reg.Lookup(ctx, registry.Subject(e.Topic), sv.Schema)
	if err != nil {
		return 0, fmt.Errorf("schema id of %s %s: %w (run `spine schema register`)", eventName, version, err)
	}
	r.remember(sv, ss.ID)
	return ss.ID, nil
}

// SchemaVersion fetches the schema by id and finds it in the catalog.
func (r *RegistryIDs) SchemaVersion(ctx context.Context, id int) (*catalog.SchemaVersion, error) {
	r.mu.RLock()
	sv, ok := r.byID[id]
	r.mu.RUnlock()
	if ok {
		return sv, nil
	}
	s, err := r.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	c, err := registry.CanonicalJSON(s.Text)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	sv, ok = r.canon[string(c)]
	if !ok {
		return nil, fmt.Errorf("schema id %d: %w: the registry's schema is in no catalog version", id, registry.ErrNotFound)
	}
	r.remember(sv, id)
	return sv, nil
}

func (r *RegistryIDs) remember(sv *catalog.SchemaVersion, id int) {
	r.mu.Lock()
	r.ids[sv] = id
	r.byID[id] = sv
	r.mu.Unlock()
}

// localIDs uses the catalog-derived ids of the local registry: no I/O.
type localIDs struct{ l *registry.Local }

func (l localIDs) SchemaID(_ context.Context, eventName, version string) (int, error) {
	return l.l.ID(eventName, version)
}

func (l localIDs) SchemaVersion(_ context.Context, id int) (*catalog.SchemaVersion, error) {
	return l.l.CatalogVersion(id)
}
