package schema

import (
	"fmt"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/compat"
	"github.com/inopsio/spine/schema/registry"
)

// GateLevel is the compatibility every schema version must have with all
// earlier versions of its event: a consumer on any version reads events of
// every later one, so services can lag behind or roll back safely.
const GateLevel = compat.BackwardTransitive

// GateFinding is one compatibility problem of one schema version.
type GateFinding struct {
	Event   string
	Version string // the version that has the problem
	Against string // the earlier version it breaks
	compat.Problem
}

func (f GateFinding) String() string {
	return fmt.Sprintf("%s %s (against %s): %s %s", f.Event, f.Version, f.Against, f.Type, f.Pointer)
}

// GateReport is the outcome of CheckCatalog.
type GateReport struct {
	Violations []GateFinding // BACKWARD_TRANSITIVE problems: the gate fails
	Warnings   []GateFinding // FORWARD_TRANSITIVE problems: reported only
}

// CheckCatalog applies the compatibility gate to every event of cat: each
// schema version must be BACKWARD_TRANSITIVE compatible with all earlier
// versions under policy; FORWARD problems are warnings, since the spec only
// recommends forward compatibility (§5).
func CheckCatalog(cat *catalog.Catalog, policy compat.Policy) (GateReport, error) {
	var r GateReport
	for _, e := range cat.Events() {
		history := make([][]byte, 0, len(e.Versions))
		for _, sv := range e.Versions {
			if len(history) > 0 {
				if err := gateVersion(&r, e, sv, history, policy); err != nil {
					return GateReport{}, err
				}
			}
			history = append(history, sv.Schema)
		}
	}
	return r, nil
}

func gateVersion(r *GateReport, e *catalog.Event, sv *catalog.SchemaVersion, history [][]byte, policy compat.Policy) error {
	for _, check := range []struct {
		level compat.Level
		into  *[]GateFinding
	}{{GateLevel, &r.Violations}, {compat.ForwardTransitive, &r.Warnings}} {
		res, err := compat.Check(check.level, policy, history, sv.Schema)
		if err != nil {
			return fmt.Errorf("compatibility gate: %s %s: %w", e.Name, sv.Version, err)
		}
		for _, p := range res.Problems {
			*check.into = append(*check.into, GateFinding{Event: e.Name, Version: sv.Version,
				Against: e.Versions[p.Against].Version, Problem: p})
		}
	}
	return nil
}

// CompatibilityChecker adapts the compatibility engine to the local
// registry, so `spine dev`'s registry answers compatibility checks with the
// same rules as the gate.
func CompatibilityChecker(policy compat.Policy) registry.CompatibilityChecker {
	return func(level registry.CompatibilityLevel, history [][]byte, candidate []byte) (registry.CompatibilityResult, error) {
		res, err := compat.Check(compat.Level(level), policy, history, candidate)
		if err != nil {
			return registry.CompatibilityResult{}, err
		}
		return registry.CompatibilityResult{Compatible: res.Compatible, Messages: res.Lines()}, nil
	}
}
