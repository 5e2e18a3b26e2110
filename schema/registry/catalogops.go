package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/inopsio/spine/catalog"
)

// Registration is one catalog schema version registered in a registry.
type Registration struct {
	Event   string // catalog event name
	Version string // catalog schema version (semver)
	Subject string
	ID      int // the id the registry gave it
}

// RegisterCatalog registers every schema version of cat under its event's
// subject, oldest first, so that the registry's version numbers follow the
// catalog's order and each version is checked against the ones before it.
// It changes nothing else (see SetCatalogCompatibility). A failure stops the
// subject it happens in (a later version must not land without the earlier
// one) but not the others; the error joins every failure, and the
// registrations made are returned either way. Re-running it is harmless.
func RegisterCatalog(ctx context.Context, reg Registry, cat *catalog.Catalog) ([]Registration, error) {
	var (
		out  []Registration
		errs []error
	)
	for _, e := range cat.Events() {
		if err := ctx.Err(); err != nil {
			return out, errors.Join(append(errs, fmt.Errorf("registry: register catalog: %w", err))...)
		}
		subject := Subject(e.Topic)
		for _, sv := range e.Versions {
			id, err := reg.Register(ctx, subject, sv.Schema)
			if err != nil {
				errs = append(errs, fmt.Errorf("event %s version %s: %w", e.Name, sv.Version, err))
				break
			}
			out = append(out, Registration{Event: e.Name, Version: sv.Version, Subject: subject, ID: id})
		}
	}
	return out, errors.Join(errs...)
}

// SetCatalogCompatibility sets level on the subject of every event of cat,
// leaving the registry default and other subjects alone. Run it before
// RegisterCatalog so the registry checks new versions at that level (Spine's
// is GateLevel). The error joins every subject that failed.
func SetCatalogCompatibility(ctx context.Context, reg Registry, cat *catalog.Catalog, level CompatibilityLevel) error {
	if err := level.Validate(); err != nil {
		return err
	}
	var errs []error
	for _, e := range cat.Events() {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("registry: set catalog compatibility: %w", err))...)
		}
		if err := reg.SetCompatibility(ctx, Subject(e.Topic), level); err != nil {
			errs = append(errs, fmt.Errorf("event %s: %w", e.Name, err))
		}
	}
	return errors.Join(errs...)
}
