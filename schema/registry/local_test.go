package registry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/registry"
)

// TestStableIDVectors pins the id derivation: other stacks (NestJS, Python)
// compute these ids from the catalog, so the formula is part of the wire
// contract. The values were computed independently with Python's hashlib.
func TestStableIDVectors(t *testing.T) {
	tests := []struct {
		subject, version string
		want             int
	}{
		{"lead.created-value", "1.0.0", 1172575000},
		{"crm.pipeline.refresh-value", "1.0.0", 702807773},
		{"a.b-value", "1.2.3", 705790213},
	}
	for _, tt := range tests {
		if got := registry.StableID(tt.subject, tt.version); got != tt.want {
			t.Errorf("StableID(%q, %q) = %d, want %d", tt.subject, tt.version, got, tt.want)
		}
	}
}

func TestLocalIDsStableAndUnique(t *testing.T) {
	// Two independent loads of the same catalog files, as two processes
	// would do, must agree on every id.
	var locals []*registry.Local
	for range 2 {
		cat, err := catalog.Load(catalog.FS())
		if err != nil {
			t.Fatal(err)
		}
		l, err := registry.NewLocal(cat)
		if err != nil {
			t.Fatal(err)
		}
		locals = append(locals, l)
	}
	seen := map[int]string{}
	for _, e := range defaultCatalog(t).Events() {
		for _, sv := range e.Versions {
			a, err := locals[0].ID(e.Name, sv.Version)
			if err != nil {
				t.Fatal(err)
			}
			b, err := locals[1].ID(e.Name, sv.Version)
			if err != nil {
				t.Fatal(err)
			}
			where := e.Name + " " + sv.Version
			if a != b {
				t.Errorf("%s: id %d in one load, %d in the other", where, a, b)
			}
			if want := registry.StableID(registry.Subject(e.Topic), sv.Version); a != want {
				t.Errorf("%s: id %d, want StableID %d", where, a, want)
			}
			if a < 1 || a > 1<<31-1 {
				t.Errorf("%s: id %d is not a positive int32", where, a)
			}
			if other, dup := seen[a]; dup {
				t.Errorf("%s: id %d also used by %s", where, a, other)
			}
			seen[a] = where
		}
	}
}

// TestLocalRoundTrip walks every version of the embedded catalog through
// every read path of Local.
func TestLocalRoundTrip(t *testing.T) {
	ctx := context.Background()
	cat := defaultCatalog(t)
	l, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := l.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(subjects) != len(cat.Events()) || !slices.IsSorted(subjects) {
		t.Errorf("Subjects = %v: want one per event, sorted", subjects)
	}
	for _, e := range cat.Events() {
		subject := registry.Subject(e.Topic)
		t.Run(subject, func(t *testing.T) {
			versions, err := l.Versions(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if len(versions) != len(e.Versions) {
				t.Fatalf("Versions = %v, want %d", versions, len(e.Versions))
			}
			for i, sv := range e.Versions {
				id, err := l.ID(e.Name, sv.Version)
				if err != nil {
					t.Fatal(err)
				}
				s, err := l.SchemaByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if s.Type != registry.TypeJSON || string(s.Text) != string(sv.Schema) {
					t.Errorf("SchemaByID(%d) = %s %.40q, want the catalog file of %s", id, s.Type, s.Text, sv.Version)
				}
				back, err := l.CatalogVersion(id)
				if err != nil || back.Event != e.Name || back.Version != sv.Version {
					t.Errorf("CatalogVersion(%d) = %v, %v; want %s %s", id, back, err, e.Name, sv.Version)
				}
				want := registry.SubjectSchema{Subject: subject, Version: i + 1, ID: id, Schema: s}
				got, err := l.Lookup(ctx, subject, reformat(t, sv.Schema))
				if err != nil || !sameSubjectSchema(got, want) {
					t.Errorf("Lookup(reformatted %s) = %+v, %v", sv.Version, got, err)
				}
				got, err = l.SchemaByVersion(ctx, subject, i+1)
				if err != nil || !sameSubjectSchema(got, want) {
					t.Errorf("SchemaByVersion(%d) = %+v, %v", i+1, got, err)
				}
				if rid, err := l.Register(ctx, subject, reformat(t, sv.Schema)); err != nil || rid != id {
					t.Errorf("Register(reformatted %s) = %d, %v; want %d", sv.Version, rid, err, id)
				}
				res, err := l.CheckCompatibility(ctx, subject, sv.Schema)
				if err != nil || !res.Compatible {
					t.Errorf("CheckCompatibility(%s) = %+v, %v", sv.Version, res, err)
				}
			}
			latest, err := l.Latest(ctx, subject)
			if err != nil || latest.Version != len(e.Versions) || string(latest.Text) != string(e.Current().Schema) {
				t.Errorf("Latest = %+v, %v; want version %d", latest, err, len(e.Versions))
			}
			if lvl, err := l.Compatibility(ctx, subject); err != nil || lvl != registry.GateLevel {
				t.Errorf("Compatibility = %s, %v", lvl, err)
			}
			if err := l.SetCompatibility(ctx, subject, registry.GateLevel); err != nil {
				t.Errorf("SetCompatibility(GateLevel) = %v", err)
			}
		})
	}
}

func sameSubjectSchema(a, b registry.SubjectSchema) bool {
	return a.Subject == b.Subject && a.Version == b.Version && a.ID == b.ID &&
		a.Type == b.Type && string(a.Text) == string(b.Text)
}

func TestLocalErrors(t *testing.T) {
	ctx := context.Background()
	cat := defaultCatalog(t)
	l, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	e := cat.Events()[0]
	subject, schema := registry.Subject(e.Topic), e.Current().Schema
	unknownID := 1
	for {
		if _, err := l.CatalogVersion(unknownID); err != nil {
			break
		}
		unknownID++
	}
	call := func(f func() error) func() error { return f }
	tests := []struct {
		name    string
		call    func() error
		want    error
		mention string // the message must name what failed
	}{
		{"SchemaByID unknown", call(func() error { _, err := l.SchemaByID(ctx, unknownID); return err }), registry.ErrNotFound, "schema id"},
		{"SchemaByID zero", call(func() error { _, err := l.SchemaByID(ctx, 0); return err }), registry.ErrNotFound, "schema id 0"},
		{"CatalogVersion unknown", call(func() error { _, err := l.CatalogVersion(unknownID); return err }), registry.ErrNotFound, "schema id"},
		{"ID unknown event", call(func() error { _, err := l.ID("no.such", "1.0.0"); return err }), registry.ErrNotFound, "no.such"},
		{"ID unknown version", call(func() error { _, err := l.ID(e.Name, "9.9.9"); return err }), registry.ErrNotFound, "9.9.9"},
		{"Lookup unknown subject", call(func() error { _, err := l.Lookup(ctx, "no.such-value", schema); return err }), registry.ErrNotFound, "no.such-value"},
		{"Lookup changed schema", call(func() error { _, err := l.Lookup(ctx, subject, changed(t, schema)); return err }), registry.ErrNotFound, subject},
		{"Lookup not JSON", call(func() error { _, err := l.Lookup(ctx, subject, []byte("{")); return err }), registry.ErrInvalidSchema, subject},
		{"Register changed schema", call(func() error { _, err := l.Register(ctx, subject, changed(t, schema)); return err }), registry.ErrReadOnly, "only knows the catalog"},
		{"Register unknown subject", call(func() error { _, err := l.Register(ctx, "no.such-value", schema); return err }), registry.ErrReadOnly, "no.such-value"},
		{"Register trailing data", call(func() error { _, err := l.Register(ctx, subject, append(schema, '1')); return err }), registry.ErrInvalidSchema, subject},
		{"SchemaByVersion 0", call(func() error { _, err := l.SchemaByVersion(ctx, subject, 0); return err }), registry.ErrNotFound, subject},
		{"SchemaByVersion past latest", call(func() error { _, err := l.SchemaByVersion(ctx, subject, len(e.Versions)+1); return err }), registry.ErrNotFound, subject},
		{"Latest unknown subject", call(func() error { _, err := l.Latest(ctx, "no.such-value"); return err }), registry.ErrNotFound, "no.such-value"},
		{"Versions unknown subject", call(func() error { _, err := l.Versions(ctx, "no.such-value"); return err }), registry.ErrNotFound, "no.such-value"},
		{"Compatibility unknown subject", call(func() error { _, err := l.Compatibility(ctx, "no.such-value"); return err }), registry.ErrNotFound, "no.such-value"},
		{"SetCompatibility other level", call(func() error { return l.SetCompatibility(ctx, subject, registry.CompatNone) }), registry.ErrReadOnly, "NONE"},
		{"SetCompatibility bad level", call(func() error { return l.SetCompatibility(ctx, subject, "SIDEWAYS") }), registry.ErrInvalidLevel, "SIDEWAYS"},
		{"CheckCompatibility without checker", call(func() error { _, err := l.CheckCompatibility(ctx, subject, changed(t, schema)); return err }), errors.ErrUnsupported, subject},
		{"CheckCompatibility unknown subject", call(func() error { _, err := l.CheckCompatibility(ctx, "no.such-value", schema); return err }), registry.ErrNotFound, "no.such-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestLocalCheckCompatibilityDelegates(t *testing.T) {
	ctx := context.Background()
	cat := testCatalog(t, testEvent{"lead.created", []string{"1.0.0", "1.1.0", "1.2.0"}})
	var gotLevel registry.CompatibilityLevel
	var gotHistory int
	l, err := registry.NewLocal(cat, registry.WithCompatibilityChecker(
		func(level registry.CompatibilityLevel, history [][]byte, _ []byte) (registry.CompatibilityResult, error) {
			gotLevel, gotHistory = level, len(history)
			return registry.CompatibilityResult{Messages: []string{"property removed"}}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.CheckCompatibility(ctx, "lead.created-value", changed(t, cat.Events()[0].Current().Schema))
	if err != nil {
		t.Fatal(err)
	}
	if res.Compatible || len(res.Messages) != 1 || gotLevel != registry.GateLevel || gotHistory != 3 {
		t.Errorf("result %+v, checker saw level %s and %d versions; want incompatible, %s, 3", res, gotLevel, gotHistory, registry.GateLevel)
	}
}

// TestLocalConcurrent hammers one Local from many goroutines; run with -race.
func TestLocalConcurrent(t *testing.T) {
	ctx := context.Background()
	cat := defaultCatalog(t)
	l, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i, e := range cat.Events() {
				if (i+g)%2 == 0 {
					continue
				}
				subject := registry.Subject(e.Topic)
				for _, sv := range e.Versions {
					id, err := l.Register(ctx, subject, sv.Schema)
					if err != nil {
						errs <- err
						return
					}
					if _, err := l.SchemaByID(ctx, id); err != nil {
						errs <- err
						return
					}
				}
				if _, err := l.Subjects(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseCompatibilityLevel(t *testing.T) {
	tests := []struct {
		in   string
		want registry.CompatibilityLevel
		ok   bool
	}{
		{"BACKWARD_TRANSITIVE", registry.CompatBackwardTransitive, true},
		{"backward-transitive", registry.CompatBackwardTransitive, true},
		{" full ", registry.CompatFull, true},
		{"none", registry.CompatNone, true},
		{"", "", false},
		{"sideways", "", false},
	}
	for _, tt := range tests {
		got, err := registry.ParseCompatibilityLevel(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseCompatibilityLevel(%q) = %q, %v", tt.in, got, err)
		}
		if !tt.ok && !errors.Is(err, registry.ErrInvalidLevel) {
			t.Errorf("ParseCompatibilityLevel(%q): err %v is not ErrInvalidLevel", tt.in, err)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`{"b": 1, "a": [true, null, "<&>"]}`, `{"a":[true,null,"<&>"],"b":1}`, true},
		{` {"n": 1.50, "m": 1e2} `, `{"m":1e2,"n":1.50}`, true},
		{`{"a":1} {"b":2}`, "", false},
		{`{"a":`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		got, err := registry.CanonicalJSON([]byte(tt.in))
		if string(got) != tt.want || (err == nil) != tt.ok {
			t.Errorf("CanonicalJSON(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, registry.ErrInvalidSchema) {
			t.Errorf("CanonicalJSON(%q): err %v is not ErrInvalidSchema", tt.in, err)
		}
	}
}
