package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/keys"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	trail, err := audit.OpenSQLite(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	c := newClock()
	k := open(t, keys.NewMemoryStore(), masterKey(t), c, func(cfg *keys.Config) {
		cfg.Audit, cfg.Actor = trail, "user:alice"
	})
	if _, _, err := k.Current(ctx, tenantA); err != nil { // first key
		t.Fatal(err)
	}
	c.Advance(keys.DefaultRotation)
	if _, _, err := k.Current(ctx, tenantA); err != nil { // automatic rotation
		t.Fatal(err)
	}
	if _, err := k.Rotate(ctx, tenantA); err != nil { // forced
		t.Fatal(err)
	}
	if err := k.Shred(ctx, tenantA, "GDPR erasure request #4711"); err != nil {
		t.Fatal(err)
	}
	_ = k.Shred(ctx, "never-seen", "typo") // nothing to shred: no row

	rows, err := trail.Rows(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		action, outcome string
		detail          map[string]any
	}{
		{"keys.rotate", "rotated", map[string]any{"from": 0.0, "to": 1.0, "reason": "first key", "kek": k.KEKID()}},
		{"keys.rotate", "rotated", map[string]any{"from": 1.0, "to": 2.0, "reason": "rotation period elapsed", "kek": k.KEKID()}},
		{"keys.rotate", "rotated", map[string]any{"from": 2.0, "to": 3.0, "reason": "rotation requested", "kek": k.KEKID()}},
		{"keys.shred", "shredded", map[string]any{"versions": []any{1.0, 2.0, 3.0}, "reason": "GDPR erasure request #4711"}},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d audit rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		var detail map[string]any
		if err := json.Unmarshal(r.Detail, &detail); err != nil {
			t.Fatal(err)
		}
		if r.Action != w.action || r.Outcome != w.outcome || r.Actor != "user:alice" || r.TenantID != tenantA {
			t.Errorf("row %d = %s %s by %s on %s", i+1, r.Action, r.Outcome, r.Actor, r.TenantID)
		}
		if got, _ := json.Marshal(detail); string(got) != mustJSON(w.detail) {
			t.Errorf("row %d detail %s, want %s", i+1, got, mustJSON(w.detail))
		}
	}
	if n, err := audit.Verify(ctx, trail); err != nil || n != 4 {
		t.Errorf("Verify = %d, %v", n, err)
	}

	// A failing trail fails explicit operations (the operator must know)
	// but not encryption.
	broken := open(t, keys.NewMemoryStore(), masterKey(t), c, func(cfg *keys.Config) {
		cfg.Audit, cfg.Actor = failingTrail{}, "user:alice"
	})
	if _, _, err := broken.Current(ctx, tenantB); err != nil {
		t.Errorf("Current with a failing audit trail: %v", err)
	}
	if _, err := broken.Rotate(ctx, tenantB); !errors.Is(err, errTrail) {
		t.Errorf("Rotate with a failing audit trail: %v", err)
	}
	if err := broken.Shred(ctx, tenantB, "test"); !errors.Is(err, errTrail) {
		t.Errorf("Shred with a failing audit trail: %v", err)
	}
	if _, err := broken.Get(ctx, tenantB, 1); !errors.Is(err, keys.ErrShredded) {
		t.Errorf("the shred happened despite the trail: %v", err)
	}

	if _, err := keys.Open(ctx, keys.Config{Store: keys.NewMemoryStore(), MasterKey: masterKey(t), Audit: trail}); err == nil {
		t.Error("Open accepted Audit without Actor")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var errTrail = errors.New("trail down")

type failingTrail struct{}

func (failingTrail) Append(context.Context, ...audit.Entry) ([]audit.Entry, error) {
	return nil, errTrail
}
func (failingTrail) Rows(context.Context, int64, int) ([]audit.Entry, error) { return nil, errTrail }
func (failingTrail) Close() error                                            { return nil }
