package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/inopsio/spine/schema/registry"
)

// failing wraps a Registry and fails chosen calls.
type failing struct {
	registry.Registry
	failRegister map[string]bool // "<subject> <canonical schema>" to fail
	failLevel    map[string]bool // subjects whose SetCompatibility fails
	registered   []string        // subjects, in call order
}

func (f *failing) Register(ctx context.Context, subject string, schema []byte) (int, error) {
	f.registered = append(f.registered, subject)
	canon, _ := registry.CanonicalJSON(schema)
	if f.failRegister[subject+" "+string(canon)] {
		return 0, fmt.Errorf("boom: %w", registry.ErrIncompatible)
	}
	return f.Registry.Register(ctx, subject, schema)
}

func (f *failing) SetCompatibility(ctx context.Context, subject string, level registry.CompatibilityLevel) error {
	if f.failLevel[subject] {
		return errors.New("level boom")
	}
	return f.Registry.SetCompatibility(ctx, subject, level)
}

func TestRegisterCatalogOrderAndPartialFailure(t *testing.T) {
	ctx := context.Background()
	cat := testCatalog(t,
		testEvent{"lead.created", []string{"1.0.0", "1.1.0", "1.2.0"}},
		testEvent{"deal.won", []string{"1.0.0", "1.0.1"}},
	)
	lead, _ := cat.Event("lead.created")
	canon, err := registry.CanonicalJSON(lead.Versions[1].Schema)
	if err != nil {
		t.Fatal(err)
	}
	_, c := fake(t, nil)
	f := &failing{Registry: c, failRegister: map[string]bool{"lead.created-value " + string(canon): true}}

	regs, err := registry.RegisterCatalog(ctx, f, cat)
	if !errors.Is(err, registry.ErrIncompatible) || !strings.Contains(err.Error(), "lead.created version 1.1.0") {
		t.Fatalf("err = %v, want the failure of lead.created 1.1.0", err)
	}
	// lead.created stops at the failed version; deal.won is registered.
	want := []string{"lead.created 1.0.0", "deal.won 1.0.0", "deal.won 1.0.1"}
	var got []string
	for _, r := range regs {
		got = append(got, r.Event+" "+r.Version)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("registered %v, want %v", got, want)
	}
	if n := strings.Count(strings.Join(f.registered, ","), "lead.created-value"); n != 2 {
		t.Errorf("lead.created was sent %d times, want 2 (1.2.0 must not follow a failed 1.1.0)", n)
	}
	versions, err := c.Versions(ctx, "deal.won-value")
	if err != nil || len(versions) != 2 {
		t.Errorf("deal.won-value versions = %v, %v", versions, err)
	}
}

func TestRegisterCatalogIntoLocalGivesStableIDs(t *testing.T) {
	cat := defaultCatalog(t)
	l, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := registry.RegisterCatalog(context.Background(), l, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if want := registry.StableID(r.Subject, r.Version); r.ID != want {
			t.Errorf("%+v: id %d, want %d", r, r.ID, want)
		}
	}
}

func TestCatalogOpsStopOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cat := testCatalog(t, testEvent{"lead.created", []string{"1.0.0"}})
	l, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	f := &failing{Registry: l}
	if regs, err := registry.RegisterCatalog(ctx, f, cat); !errors.Is(err, context.Canceled) || len(regs) != 0 || len(f.registered) != 0 {
		t.Errorf("RegisterCatalog on a cancelled context = %v, %v; sent %v", regs, err, f.registered)
	}
	if err := registry.SetCatalogCompatibility(ctx, l, cat, registry.GateLevel); !errors.Is(err, context.Canceled) {
		t.Errorf("SetCatalogCompatibility on a cancelled context = %v", err)
	}
}

func TestSetCatalogCompatibility(t *testing.T) {
	ctx := context.Background()
	cat := testCatalog(t,
		testEvent{"lead.created", []string{"1.0.0"}},
		testEvent{"deal.won", []string{"1.0.0"}},
		testEvent{"deal.lost", []string{"1.0.0"}},
	)
	_, c := fake(t, nil)
	f := &failing{Registry: c, failLevel: map[string]bool{"deal.won-value": true}}
	err := registry.SetCatalogCompatibility(ctx, f, cat, registry.GateLevel)
	if err == nil || !strings.Contains(err.Error(), "deal.won") || strings.Contains(err.Error(), "deal.lost") {
		t.Fatalf("err = %v, want only deal.won's failure", err)
	}
	for _, s := range []string{"lead.created-value", "deal.lost-value"} {
		if lvl, err := c.Compatibility(ctx, s); err != nil || lvl != registry.GateLevel {
			t.Errorf("%s: level %q, %v; want %s", s, lvl, err, registry.GateLevel)
		}
	}
	if lvl, err := c.Compatibility(ctx, ""); err != nil || lvl == registry.GateLevel {
		t.Errorf("the registry default was changed to %q (%v)", lvl, err)
	}
	if err := registry.SetCatalogCompatibility(ctx, c, cat, "bogus"); !errors.Is(err, registry.ErrInvalidLevel) {
		t.Errorf("bogus level: err = %v", err)
	}
}
