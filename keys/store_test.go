package keys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/keys"
)

// TestStoreContract runs what Keyring relies on against every Store.
func TestStoreContract(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 9, 30, 0, 123456000, time.UTC)
	rec := func(tenant string, v int) keys.Record {
		return keys.Record{Tenant: tenant, Version: v, Created: t0.Add(time.Duration(v) * time.Hour), KEK: "local:test",
			Wrapped: []byte(fmt.Sprintf("wrapped-%s-%d", tenant, v))}
	}
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			s := kind.open(t)
			if recs, err := s.Versions(ctx, tenantA); err != nil || len(recs) != 0 {
				t.Fatalf("empty store: Versions = %v, %v", recs, err)
			}
			if all, err := s.All(ctx); err != nil || len(all) != 0 {
				t.Fatalf("empty store: All = %v, %v", all, err)
			}
			steps := []struct {
				rec  keys.Record
				want bool
			}{
				{rec(tenantA, 2), true},
				{rec(tenantA, 1), true},
				{rec(tenantB, 1), true},
				{rec(tenantA, 2), false}, // exists: insert-if-absent
			}
			for _, st := range steps {
				other := st.rec
				other.Wrapped = []byte("must not replace")
				if ok, err := s.Insert(ctx, other); err != nil || ok != st.want {
					t.Fatalf("Insert(%s/%d) = %v, %v; want %v", st.rec.Tenant[:4], st.rec.Version, ok, err, st.want)
				}
			}
			got, err := s.Versions(ctx, tenantA)
			if err != nil || len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 {
				t.Fatalf("Versions(A) = %+v, %v; want 1, 2", got, err)
			}
			if !got[1].Created.Equal(rec(tenantA, 2).Created) || got[1].KEK != "local:test" {
				t.Errorf("record changed by the store: %+v", got[1])
			}
			r, err := s.Version(ctx, tenantB, 1)
			if err != nil || r.Tenant != tenantB || !bytes.Equal(r.Wrapped, []byte("must not replace")) {
				t.Errorf("Version(B, 1) = %+v, %v", r, err)
			}
			if _, err := s.Version(ctx, tenantB, 2); !errors.Is(err, keys.ErrUnknownVersion) {
				t.Errorf("Version(B, 2): %v, want ErrUnknownVersion", err)
			}
			bad := []keys.Record{
				{Tenant: "", Version: 1, Created: t0, KEK: "k", Wrapped: []byte("w")},
				{Tenant: tenantA, Version: 0, Created: t0, KEK: "k", Wrapped: []byte("w")},
				{Tenant: tenantA, Version: 9, KEK: "k", Wrapped: []byte("w")},
				{Tenant: tenantA, Version: 9, Created: t0, KEK: "k"},
				{Tenant: tenantA, Version: 9, Created: t0, Wrapped: []byte("w")},
				{Tenant: tenantA, Version: 9, Created: t0, KEK: "k", Wrapped: []byte("w"), Shredded: t0},
			}
			for i, b := range bad {
				if ok, err := s.Insert(ctx, b); err == nil || ok {
					t.Errorf("invalid record %d inserted", i)
				}
			}

			at := t0.Add(100 * time.Hour)
			shredded, err := s.Shred(ctx, tenantA, at)
			if err != nil || !slices.Equal(shredded, []int{1, 2}) {
				t.Fatalf("Shred(A) = %v, %v; want [1 2]", shredded, err)
			}
			if again, err := s.Shred(ctx, tenantA, at); err != nil || len(again) != 0 {
				t.Errorf("second Shred(A) = %v, %v; want none", again, err)
			}
			if none, err := s.Shred(ctx, "nobody", at); err != nil || len(none) != 0 {
				t.Errorf("Shred(nobody) = %v, %v", none, err)
			}
			tomb, err := s.Version(ctx, tenantA, 1)
			if err != nil || !tomb.IsShredded() || tomb.Wrapped != nil || !tomb.Shredded.Equal(at) {
				t.Errorf("tombstone = %+v, %v", tomb, err)
			}
			// After a shred, versions go on.
			if ok, err := s.Insert(ctx, rec(tenantA, 3)); !ok || err != nil {
				t.Errorf("Insert(A, 3) after shred = %v, %v", ok, err)
			}
			all, err := s.All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, r := range all {
				order = append(order, fmt.Sprintf("%s/%d/%v", r.Tenant[:4], r.Version, r.IsShredded()))
			}
			want := []string{"0b6f/1/false", "7c9e/1/true", "7c9e/2/true", "7c9e/3/false"}
			if !slices.Equal(order, want) {
				t.Errorf("All = %v, want %v", order, want)
			}
		})
	}
}

// TestFileStoreFile: the file's permissions, and a corrupt file is an
// error, never an empty keyring (which would mint new keys and lose the
// old ones).
func TestFileStoreFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "keyring.json")
	s, err := keys.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := open(t, s, masterKey(t), newClock())
	if _, _, err := k.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600, path + ".lock": 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %04o", p, fi.Mode(), err, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := os.WriteFile(path, []byte(`{"format":"spine.keys/1","keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(t, s, masterKey(t), newClock()).Current(ctx, tenantA); err == nil {
		t.Error("Current on a corrupt keyring file succeeded")
	}
}

// TestFileStoreLockWaitsForContext: a store locked by another process
// makes callers wait, until their context ends.
func TestFileStoreLockWaitsForContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	a, err := keys.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	holder, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := lockExclusive(holder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := a.All(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("All on a locked store: %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("returned after %v without waiting", waited)
	}
	unlock(holder)
	if _, err := a.All(context.Background()); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

// TestStoreRewrap: Rewrap is a compare-and-swap on every Store: it swaps
// the wrapping of the record as read, and refuses a record changed or
// shredded since, or that does not exist, writing nothing.
func TestStoreRewrap(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)
	rec := func(tenant string, v int) keys.Record {
		return keys.Record{Tenant: tenant, Version: v, Created: t0, KEK: "local:old",
			Wrapped: []byte(fmt.Sprintf("old-%s-%d", tenant[:4], v))}
	}
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			s := kind.open(t)
			for _, r := range []keys.Record{rec(tenantA, 1), rec(tenantA, 2), rec(tenantB, 1)} {
				if ok, err := s.Insert(ctx, r); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			if _, err := s.Shred(ctx, tenantB, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			swapped := rec(tenantA, 1)
			swapped.KEK, swapped.Wrapped = "local:new", []byte("new-A-1")
			otherKEK := rec(tenantA, 2)
			otherKEK.KEK = "local:other" // same bytes, other KEK: not the record read

			steps := []struct {
				name    string
				old     keys.Record
				kek     string
				wrapped string
				want    error // nil: swapped
			}{
				{"swap", rec(tenantA, 1), "local:new", "new-A-1", nil},
				{"stale read", rec(tenantA, 1), "local:newer", "newer-A-1", keys.ErrConflict},
				{"other KEK ID", otherKEK, "local:new", "new-A-2", keys.ErrConflict},
				{"shredded since read", rec(tenantB, 1), "local:new", "new-B-1", keys.ErrShredded},
				{"no such version", rec(tenantA, 9), "local:new", "new-A-9", keys.ErrUnknownVersion},
				{"no such tenant", rec("nobody", 1), "local:new", "x", keys.ErrUnknownVersion},
			}
			for _, st := range steps {
				err := s.Rewrap(ctx, st.old, st.kek, []byte(st.wrapped))
				if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
					t.Errorf("%s: Rewrap = %v, want %v", st.name, err, st.want)
				}
			}
			invalid := []struct {
				name    string
				old     keys.Record
				kek     string
				wrapped []byte
			}{
				{"no KEK ID", swapped, "", []byte("w")},
				{"nothing wrapped", swapped, "local:x", nil},
				{"read a tombstone", keys.Record{Tenant: tenantB, Version: 1, Created: t0, Shredded: t0}, "local:x", []byte("w")},
				{"invalid tenant", keys.Record{Tenant: "a\nb", Version: 1, KEK: "k", Wrapped: []byte("w")}, "local:x", []byte("w")},
			}
			for _, c := range invalid {
				if err := s.Rewrap(ctx, c.old, c.kek, c.wrapped); err == nil {
					t.Errorf("%s: accepted", c.name)
				}
			}

			all, err := s.All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range all {
				got = append(got, fmt.Sprintf("%s/%d %s %q shredded=%v created=%v", r.Tenant[:4], r.Version, r.KEK, r.Wrapped,
					r.IsShredded(), r.Created.Equal(t0)))
			}
			want := []string{
				`0b6f/1  "" shredded=true created=true`, // a rewrap never resurrects
				`7c9e/1 local:new "new-A-1" shredded=false created=true`,
				`7c9e/2 local:old "old-7c9e-2" shredded=false created=true`,
			}
			if !slices.Equal(got, want) {
				t.Errorf("after the rewraps:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
