package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/keys"
)

// localKEK is a LocalKEK over master.
func localKEK(t testing.TB, master []byte) *keys.LocalKEK {
	t.Helper()
	k, err := keys.NewLocalKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withDecrypt adds KEKs that unwrap only.
func withDecrypt(keks ...keys.KEK) func(*keys.Config) {
	return func(cfg *keys.Config) { cfg.DecryptKEKs = keks }
}

// version names one key version of a tenant.
type version struct {
	tenant  string
	version int
}

// deks reads every DEK that is not shredded, through k.
func deks(t *testing.T, k *keys.Keyring, store keys.Store) map[version][]byte {
	t.Helper()
	all, err := store.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[version][]byte{}
	for _, r := range all {
		if r.IsShredded() {
			continue
		}
		key, err := k.Get(context.Background(), r.Tenant, r.Version)
		if err != nil {
			t.Fatalf("Get(%s, %d): %v", r.Tenant[:4], r.Version, err)
		}
		out[version{r.Tenant, r.Version}] = key
	}
	return out
}

// sameDEKs fails unless got holds the same keys as want.
func sameDEKs(t *testing.T, got, want map[version][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for v, key := range want {
		if !bytes.Equal(got[v], key) {
			t.Errorf("tenant %s version %d: the DEK changed", v.tenant[:4], v.version)
		}
	}
}

// keksOf sums a store up as "tenant-prefix/version:KEK" words.
func keksOf(t *testing.T, store keys.Store, names map[string]string) string {
	t.Helper()
	all, err := store.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var w []string
	for _, r := range all {
		kek := names[r.KEK]
		if r.IsShredded() {
			kek = "shredded"
		}
		w = append(w, fmt.Sprintf("%s/%d:%s", r.Tenant[:4], r.Version, kek))
	}
	return strings.Join(w, " ")
}

func counts(r keys.RewrapResult) string {
	return fmt.Sprintf("rewrapped=%d current=%d shredded=%d failed=%d", r.Rewrapped, r.Current, r.Shredded, len(r.Failed))
}

const tenantC = "c0c0c0c0-0000-4000-8000-000000000000"

// seed gives tenant A two versions, B one and C one, shredded, through k.
func seed(t *testing.T, k *keys.Keyring) {
	t.Helper()
	ctx := context.Background()
	for _, tenant := range []string{tenantA, tenantB, tenantC} {
		if _, _, err := k.Current(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.Rotate(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	if err := k.Shred(ctx, tenantC, "test"); err != nil {
		t.Fatal(err)
	}
}

// TestRewrapLocal moves a keyring from local master key A to B on every
// store: the DEKs stay the same, B alone reads them afterwards, A no
// longer does, and a second run changes nothing.
func TestRewrapLocal(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			store := kind.open(t)
			masterA, masterB := masterKey(t), masterKey(t)
			kekA, kekB := localKEK(t, masterA), localKEK(t, masterB)
			names := map[string]string{kekA.ID(): "A", kekB.ID(): "B"}
			ka := open(t, store, masterA, c)
			seed(t, ka)
			before := deks(t, ka, store)

			kb := open(t, store, masterB, c, withDecrypt(kekA))
			dry, err := kb.Rewrap(ctx, keys.RewrapOptions{DryRun: true})
			if err != nil || counts(dry) != "rewrapped=3 current=0 shredded=1 failed=0" || !dry.DryRun {
				t.Fatalf("dry run = %s %+v, %v", counts(dry), dry, err)
			}
			if got := keksOf(t, store, names); got != "0b6f/1:A 7c9e/1:A 7c9e/2:A c0c0/1:shredded" {
				t.Fatalf("the dry run changed the store: %s", got)
			}

			res, err := kb.Rewrap(ctx, keys.RewrapOptions{Reason: "retire master key A"})
			if err != nil || counts(res) != "rewrapped=3 current=0 shredded=1 failed=0" {
				t.Fatalf("Rewrap = %s, %v", counts(res), err)
			}
			if res.To != kekB.ID() || res.From[kekA.ID()] != 3 || len(res.From) != 1 || res.ToVersion != 0 {
				t.Errorf("result %+v", res)
			}
			if got := keksOf(t, store, names); got != "0b6f/1:B 7c9e/1:B 7c9e/2:B c0c0/1:shredded" {
				t.Errorf("after the rewrap: %s", got)
			}
			// Only B configured: every DEK, unchanged.
			onlyB := open(t, store, masterB, c)
			sameDEKs(t, deks(t, onlyB, store), before)
			if _, err := onlyB.Get(ctx, tenantC, 1); !errors.Is(err, keys.ErrShredded) {
				t.Errorf("the shredded tenant: %v", err)
			}
			// A alone no longer reads them, and says which KEK does.
			_, err = open(t, store, masterA, c).Get(ctx, tenantA, 1)
			if !errors.Is(err, keys.ErrUnwrap) || !strings.Contains(err.Error(), kekA.ID()) || !strings.Contains(err.Error(), kekB.ID()) {
				t.Errorf("Get with A after the rewrap: %v", err)
			}

			again, err := kb.Rewrap(ctx, keys.RewrapOptions{Reason: "again"})
			if err != nil || counts(again) != "rewrapped=0 current=3 shredded=1 failed=0" {
				t.Errorf("second run = %s, %v", counts(again), err)
			}
		})
	}
}

// TestDecryptKEKs: a keyring unwraps each DEK with the KEK its record
// names, wraps new ones with its own, and names every KEK when none fits.
func TestDecryptKEKs(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := keys.NewMemoryStore()
	masterA, masterB, masterC := masterKey(t), masterKey(t), masterKey(t)
	kekA, kekB, kekC := localKEK(t, masterA), localKEK(t, masterB), localKEK(t, masterC)
	ka := open(t, store, masterA, c)
	if _, _, err := ka.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	both := open(t, store, masterB, c, withDecrypt(kekA))
	if _, err := both.Rotate(ctx, tenantA); err != nil { // version 2, by B
		t.Fatal(err)
	}
	if rec, _ := store.Version(ctx, tenantA, 2); rec.KEK != kekB.ID() {
		t.Errorf("version 2 wrapped by %s, want B (%s): DecryptKEKs never wrap", rec.KEK, kekB.ID())
	}
	tests := []struct {
		name    string
		k       *keys.Keyring
		ok      [2]bool  // versions 1 (A) and 2 (B) unwrap
		errHas  []string // in the error of the version that fails
		openErr bool
	}{
		{"B, and A to unwrap", both, [2]bool{true, true}, nil, false},
		{"A only", open(t, store, masterA, c), [2]bool{true, false}, []string{kekB.ID(), kekA.ID()}, false},
		{"B only", open(t, store, masterB, c), [2]bool{false, true}, []string{kekA.ID(), kekB.ID()}, false},
		{"C, and A to unwrap", open(t, store, masterC, c, withDecrypt(kekA)), [2]bool{true, false},
			[]string{kekB.ID(), kekC.ID(), kekA.ID(), "to unwrap only"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, v := range []int{1, 2} {
				_, err := tc.k.Get(ctx, tenantA, v)
				if (err == nil) != tc.ok[i] {
					t.Fatalf("Get(%d) = %v, want ok %v", v, err, tc.ok[i])
				}
				if err == nil {
					continue
				}
				if !errors.Is(err, keys.ErrUnwrap) {
					t.Errorf("Get(%d) = %v, want ErrUnwrap", v, err)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Get(%d) error %q does not name %q", v, err, s)
					}
				}
			}
		})
	}
	if _, err := keys.Open(ctx, keys.Config{Store: store, MasterKey: masterB, DecryptKEKs: []keys.KEK{kekA, nil}}); err == nil {
		t.Error("Open accepted a nil DecryptKEK")
	}
}

// flakyKEK is a KEK whose Wrap fails once it has wrapped ok keys, as a KMS
// that goes down (or a process that dies) halfway through a rewrap; before
// each Wrap it calls before, if set.
type flakyKEK struct {
	keys.KEK
	ok     int64
	wraps  atomic.Int64
	before func(aad []byte)
}

var errKMSDown = errors.New("KMS unreachable")

func (f *flakyKEK) Wrap(ctx context.Context, dek, aad []byte) ([]byte, error) {
	if f.before != nil {
		f.before(aad)
	}
	if f.ok >= 0 && f.wraps.Add(1) > f.ok {
		return nil, errKMSDown
	}
	return f.KEK.Wrap(ctx, dek, aad)
}

// TestRewrapResumes: a run that fails halfway leaves every version
// readable by the KEK its record names; the next run finishes the job.
func TestRewrapResumes(t *testing.T) {
	tenants := []string{tenantA, tenantB, tenantC, "d0d0d0d0-0000-4000-8000-000000000000", "e0e0e0e0-0000-4000-8000-000000000000"}
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			store := kind.open(t)
			masterA, masterB := masterKey(t), masterKey(t)
			kekA, kekB := localKEK(t, masterA), localKEK(t, masterB)
			ka := open(t, store, masterA, c)
			for _, tenant := range tenants {
				if _, _, err := ka.Current(ctx, tenant); err != nil {
					t.Fatal(err)
				}
			}
			before := deks(t, ka, store)

			flaky := &flakyKEK{KEK: kekB, ok: 2}
			kf := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK, cfg.DecryptKEKs = flaky, []keys.KEK{kekA} })
			res, err := kf.Rewrap(ctx, keys.RewrapOptions{Reason: "to B"})
			if err != nil || counts(res) != "rewrapped=2 current=0 shredded=0 failed=3" {
				t.Fatalf("flaky run = %s, %v", counts(res), err)
			}
			for _, f := range res.Failed {
				if !errors.Is(f, errKMSDown) || f.KEK != kekA.ID() || !strings.Contains(f.Error(), f.Tenant) {
					t.Errorf("failure %+v: %v", f, f.Err)
				}
			}
			// Halfway: each version is readable by the KEK its record names.
			all, _ := store.All(ctx)
			byID := map[string][]byte{kekA.ID(): masterA, kekB.ID(): masterB}
			for _, r := range all {
				master, ok := byID[r.KEK]
				if !ok {
					t.Fatalf("tenant %s wrapped by %q", r.Tenant[:4], r.KEK)
				}
				if got, err := open(t, store, master, c).Get(ctx, r.Tenant, r.Version); err != nil || !bytes.Equal(got, before[version{r.Tenant, r.Version}]) {
					t.Errorf("halfway, tenant %s by its KEK: %v", r.Tenant[:4], err)
				}
			}
			sameDEKs(t, deks(t, open(t, store, masterB, c, withDecrypt(kekA)), store), before)

			res, err = open(t, store, masterB, c, withDecrypt(kekA)).Rewrap(ctx, keys.RewrapOptions{Reason: "to B, again"})
			if err != nil || counts(res) != "rewrapped=3 current=2 shredded=0 failed=0" {
				t.Fatalf("second run = %s, %v", counts(res), err)
			}
			sameDEKs(t, deks(t, open(t, store, masterB, c), store), before)
		})
	}
}

// TestRewrapRaces: what other processes do while a rewrap runs. A version
// shredded meanwhile stays shredded; one rewrapped by someone else is a
// conflict, reported and not overwritten; one created meanwhile keeps its
// KEK and the next run moves it.
func TestRewrapRaces(t *testing.T) {
	tests := []struct {
		name string
		// during runs once, just before B wraps tenant A's version 1.
		during func(t *testing.T, store keys.Store, ka *keys.Keyring, kekA, kekB keys.KEK)
		counts string
		keks   string // after the run
		check  func(t *testing.T, store keys.Store, res keys.RewrapResult)
		rerun  string // counts of a second run
	}{
		{
			name: "shredded meanwhile",
			during: func(t *testing.T, _ keys.Store, ka *keys.Keyring, _, _ keys.KEK) {
				if err := ka.Shred(context.Background(), tenantA, "erasure during the rewrap"); err != nil {
					t.Error(err)
				}
			},
			// A/1 is counted shredded by the swap that found it so; A/2
			// was read before the shred and fails the same way.
			counts: "rewrapped=1 current=0 shredded=2 failed=0",
			keks:   "0b6f/1:B 7c9e/1:shredded 7c9e/2:shredded",
			rerun:  "rewrapped=0 current=1 shredded=2 failed=0",
		},
		{
			name: "rewrapped by someone else meanwhile",
			during: func(t *testing.T, store keys.Store, _ *keys.Keyring, kekA, kekB keys.KEK) {
				ctx := context.Background()
				rec, _ := store.Version(ctx, tenantA, 1)
				// Another rewrap (to B too) got there first.
				other := rewrapWith(t, rec, kekA, kekB)
				if err := store.Rewrap(ctx, rec, kekB.ID(), other); err != nil {
					t.Error(err)
				}
			},
			counts: "rewrapped=2 current=0 shredded=0 failed=1",
			keks:   "0b6f/1:B 7c9e/1:B 7c9e/2:B",
			check: func(t *testing.T, store keys.Store, res keys.RewrapResult) {
				f := res.Failed[0]
				if !errors.Is(f, keys.ErrConflict) || f.Tenant != tenantA || f.Version != 1 {
					t.Errorf("failure %+v: %v", f, f.Err)
				}
			},
			rerun: "rewrapped=0 current=3 shredded=0 failed=0",
		},
		{
			name: "rotated meanwhile by a process with A",
			during: func(t *testing.T, _ keys.Store, ka *keys.Keyring, _, _ keys.KEK) {
				if _, err := ka.Rotate(context.Background(), tenantA); err != nil {
					t.Error(err)
				}
			},
			counts: "rewrapped=3 current=0 shredded=0 failed=0",
			keks:   "0b6f/1:B 7c9e/1:B 7c9e/2:B 7c9e/3:A",
			rerun:  "rewrapped=1 current=3 shredded=0 failed=0",
		},
	}
	for _, kind := range storeKinds(t) {
		for _, tc := range tests {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				c := newClock()
				store := storeOfKind(t, kind.name)
				masterA, masterB := masterKey(t), masterKey(t)
				kekA, kekB := localKEK(t, masterA), localKEK(t, masterB)
				names := map[string]string{kekA.ID(): "A", kekB.ID(): "B"}
				ka := open(t, store, masterA, c, func(cfg *keys.Config) { cfg.CacheTTL = -1 })
				for _, tenant := range []string{tenantA, tenantB} {
					if _, _, err := ka.Current(ctx, tenant); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := ka.Rotate(ctx, tenantA); err != nil {
					t.Fatal(err)
				}
				before := deks(t, ka, store)
				var once atomic.Bool
				hooked := &flakyKEK{KEK: kekB, ok: -1, before: func(aad []byte) {
					if bytes.Equal(aad, keys.AAD(tenantA, 1)) && once.CompareAndSwap(false, true) {
						tc.during(t, store, ka, kekA, kekB)
					}
				}}
				kb := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK, cfg.DecryptKEKs = hooked, []keys.KEK{kekA} })
				res, err := kb.Rewrap(ctx, keys.RewrapOptions{Reason: "to B"})
				if err != nil || counts(res) != tc.counts {
					t.Fatalf("Rewrap = %s, %v; want %s", counts(res), err, tc.counts)
				}
				if got := keksOf(t, store, names); got != tc.keks {
					t.Errorf("after the run: %s, want %s", got, tc.keks)
				}
				if tc.check != nil {
					tc.check(t, store, res)
				}
				// Whatever happened, B with A to unwrap reads every key
				// that is not shredded, unchanged.
				after := deks(t, open(t, store, masterB, c, withDecrypt(kekA)), store)
				for v, key := range after {
					if old, ok := before[v]; ok && !bytes.Equal(old, key) {
						t.Errorf("tenant %s version %d: the DEK changed", v.tenant[:4], v.version)
					}
				}
				res, err = kb.Rewrap(ctx, keys.RewrapOptions{Reason: "to B, again"})
				if err != nil || counts(res) != tc.rerun {
					t.Errorf("second run = %s, %v; want %s", counts(res), err, tc.rerun)
				}
			})
		}
	}
}

// storeOfKind opens a fresh, empty store of the kind named.
func storeOfKind(t *testing.T, name string) keys.Store {
	for _, k := range storeKinds(t) {
		if k.name == name {
			return k.open(t)
		}
	}
	t.Fatalf("no store kind %q", name)
	return nil
}

// rewrapWith wraps rec's DEK anew, unwrapping it with from and wrapping
// it with to, as a concurrent rewrap would.
func rewrapWith(t *testing.T, rec keys.Record, from, to keys.KEK) []byte {
	t.Helper()
	ctx := context.Background()
	dek, err := from.Unwrap(ctx, rec.Wrapped, keys.AAD(rec.Tenant, rec.Version))
	if err != nil {
		t.Fatal(err)
	}
	w, err := to.Wrap(ctx, dek, keys.AAD(rec.Tenant, rec.Version))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRewrapToVault moves a local keyring to Vault Transit: afterwards the
// Vault KEK alone reads every DEK. Transit's rewrap endpoint is not used:
// it takes no associated data (see transittest), so each DEK is
// decrypted and encrypted again, bound to its tenant and version.
func TestRewrapToVault(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			store := kind.open(t)
			srv := newTransit(t, "")
			masterA := masterKey(t)
			kekA, kv := localKEK(t, masterA), vaultKEK(t, srv, keys.VaultConfig{})
			seed(t, open(t, store, masterA, c))
			before := deks(t, open(t, store, masterA, c), store)

			k := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK, cfg.DecryptKEKs = kv, []keys.KEK{kekA} })
			res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "move to Vault"})
			if err != nil || counts(res) != "rewrapped=3 current=0 shredded=1 failed=0" || res.From[kekA.ID()] != 3 {
				t.Fatalf("Rewrap = %s %+v, %v", counts(res), res, err)
			}
			all, _ := store.All(ctx)
			for _, r := range all {
				if !r.IsShredded() && (r.KEK != "vault:transit/spine" || !bytes.HasPrefix(r.Wrapped, []byte("vault:v1:"))) {
					t.Errorf("tenant %s version %d: %s %.9q", r.Tenant[:4], r.Version, r.KEK, r.Wrapped)
				}
			}
			onlyVault, err := keys.Open(ctx, keys.Config{Store: store, Now: c.Now, Vault: &keys.VaultConfig{Address: srv.URL, Token: vaultToken, Key: "spine"}})
			if err != nil {
				t.Fatal(err)
			}
			defer onlyVault.Close()
			sameDEKs(t, deks(t, onlyVault, store), before)
			aads := map[string]bool{}
			for _, v := range []version{{tenantA, 1}, {tenantA, 2}, {tenantB, 1}} {
				aads[b64(keys.AAD(v.tenant, v.version))] = true
			}
			for _, r := range srv.Requests() {
				if strings.Contains(r.Path, "/rewrap/") {
					t.Errorf("Transit's rewrap was called: %s", r.Path)
				}
				if strings.HasSuffix(r.Path, "/encrypt/spine") && !aads[r.Body["associated_data"].(string)] {
					t.Errorf("encrypt with associated_data %v", r.Body["associated_data"])
				}
			}
			if res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "again"}); err != nil || counts(res) != "rewrapped=0 current=3 shredded=1 failed=0" {
				t.Errorf("second run = %s, %v", counts(res), err)
			}
		})
	}
}

// TestRewrapTransitRotation: after the Transit key is rotated, Rewrap
// moves the DEKs wrapped by older versions to the newest (same KEK ID), so
// that min_decryption_version can retire the old versions and every DEK
// still unwraps.
func TestRewrapTransitRotation(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			store := kind.open(t)
			srv := newTransit(t, "")
			kv := vaultKEK(t, srv, keys.VaultConfig{})
			k := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK = kv })
			seed(t, k) // A/1, A/2, B/1 by Transit v1; C shredded
			srv.RotateKey("spine")
			if _, err := k.Rotate(ctx, tenantB); err != nil { // B/2 by v2
				t.Fatal(err)
			}
			before := deks(t, k, store)

			dry, err := k.Rewrap(ctx, keys.RewrapOptions{DryRun: true})
			if err != nil || counts(dry) != "rewrapped=3 current=1 shredded=1 failed=0" {
				t.Fatalf("dry run = %s, %v", counts(dry), err)
			}
			res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "Transit key rotated"})
			if err != nil || counts(res) != "rewrapped=3 current=1 shredded=1 failed=0" || res.ToVersion != 2 || res.From[kv.ID()] != 3 {
				t.Fatalf("Rewrap = %s %+v, %v", counts(res), res, err)
			}
			all, _ := store.All(ctx)
			for _, r := range all {
				if !r.IsShredded() && !bytes.HasPrefix(r.Wrapped, []byte("vault:v2:")) {
					t.Errorf("tenant %s version %d still %.9q", r.Tenant[:4], r.Version, r.Wrapped)
				}
			}
			srv.SetMinDecryptionVersion("spine", 2)
			fresh := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK = vaultKEK(t, srv, keys.VaultConfig{}) })
			sameDEKs(t, deks(t, fresh, store), before)
			if res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "again"}); err != nil || counts(res) != "rewrapped=0 current=4 shredded=1 failed=0" {
				t.Errorf("second run = %s, %v", counts(res), err)
			}
		})
	}
}

// TestRewrapTransitTooLate: with min_decryption_version moved before the
// rewrap, the old DEKs fail, each named, with Vault's refusal inside; the
// others are rewrapped.
func TestRewrapTransitTooLate(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := keys.NewMemoryStore()
	srv := newTransit(t, "")
	k := open(t, store, nil, c, func(cfg *keys.Config) { cfg.KEK = vaultKEK(t, srv, keys.VaultConfig{}) })
	if _, _, err := k.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	srv.RotateKey("spine")
	if _, _, err := k.Current(ctx, tenantB); err != nil {
		t.Fatal(err)
	}
	srv.RotateKey("spine")
	srv.SetMinDecryptionVersion("spine", 2)
	res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "too late"})
	if err != nil || counts(res) != "rewrapped=1 current=0 shredded=0 failed=1" || res.ToVersion != 3 {
		t.Fatalf("Rewrap = %s %+v, %v", counts(res), res, err)
	}
	f := res.Failed[0]
	if f.Tenant != tenantA || f.Version != 1 || !errors.Is(f, keys.ErrUnwrap) ||
		!strings.Contains(f.Error(), "disallowed by policy") {
		t.Errorf("failure %+v: %v", f, f.Err)
	}
	if rec, _ := store.Version(ctx, tenantA, 1); !bytes.HasPrefix(rec.Wrapped, []byte("vault:v1:")) {
		t.Errorf("the failed version changed: %.9q", rec.Wrapped)
	}
}

// TestRewrapAudit: a run is one "keys.rewrap" row; a dry run none.
func TestRewrapAudit(t *testing.T) {
	ctx := context.Background()
	trail, err := audit.OpenSQLite(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	c := newClock()
	store := keys.NewMemoryStore()
	masterA, masterB, masterC := masterKey(t), masterKey(t), masterKey(t)
	kekA, kekB, kekC := localKEK(t, masterA), localKEK(t, masterB), localKEK(t, masterC)
	seed(t, open(t, store, masterA, c))
	const tenantD = "d0d0d0d0-0000-4000-8000-000000000000"
	if _, _, err := open(t, store, masterC, c).Current(ctx, tenantD); err != nil { // by a KEK the rewrap lacks
		t.Fatal(err)
	}
	withAudit := func(keks ...keys.KEK) func(*keys.Config) {
		return func(cfg *keys.Config) { cfg.DecryptKEKs, cfg.Audit, cfg.Actor = keks, trail, "user:alice" }
	}
	k := open(t, store, masterB, c, withAudit(kekA))
	if _, err := k.Rewrap(ctx, keys.RewrapOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "retire A"})
	if err != nil || counts(res) != "rewrapped=3 current=0 shredded=1 failed=1" {
		t.Fatalf("Rewrap = %s, %v", counts(res), err)
	}
	if f := res.Failed[0]; !errors.Is(f, keys.ErrUnwrap) || !strings.Contains(f.Error(), kekC.ID()) || !strings.Contains(f.Error(), kekB.ID()) {
		t.Errorf("failure: %v", f)
	}
	res, err = open(t, store, masterB, c, withAudit(kekC)).Rewrap(ctx, keys.RewrapOptions{Reason: "retire C"})
	if err != nil || counts(res) != "rewrapped=1 current=3 shredded=1 failed=0" {
		t.Fatalf("second Rewrap = %s, %v", counts(res), err)
	}

	rows, err := trail.Rows(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome string
		detail  map[string]any
	}{
		{"failed", map[string]any{"to": kekB.ID(), "reason": "retire A", "rewrapped": 3, "current": 0, "shredded": 1, "failed": 1,
			"from": map[string]any{kekA.ID(): 3}, "failed_versions": []any{tenantD + "/1"}}},
		{"rewrapped", map[string]any{"to": kekB.ID(), "reason": "retire C", "rewrapped": 1, "current": 3, "shredded": 1, "failed": 0,
			"from": map[string]any{kekC.ID(): 1}}},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d audit rows, want %d (none for the dry run): %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		var detail map[string]any
		if err := json.Unmarshal(r.Detail, &detail); err != nil {
			t.Fatal(err)
		}
		if r.Action != "keys.rewrap" || r.Outcome != w.outcome || r.Actor != "user:alice" || r.TenantID != "" {
			t.Errorf("row %d = %s %s by %s on %q", i+1, r.Action, r.Outcome, r.Actor, r.TenantID)
		}
		if got, _ := json.Marshal(detail); string(got) != mustJSON(w.detail) {
			t.Errorf("row %d detail %s\nwant %s", i+1, got, mustJSON(w.detail))
		}
	}

	// A failing trail fails the run, which did its work all the same.
	broken := open(t, store, masterA, c, func(cfg *keys.Config) {
		cfg.DecryptKEKs, cfg.Audit, cfg.Actor = []keys.KEK{kekB}, failingTrail{}, "user:alice"
	})
	if res, err := broken.Rewrap(ctx, keys.RewrapOptions{Reason: "back to A"}); !errors.Is(err, errTrail) || res.Rewrapped != 4 {
		t.Errorf("Rewrap with a failing trail = %s, %v", counts(res), err)
	}
}

func TestRewrapArguments(t *testing.T) {
	c := newClock()
	store := keys.NewMemoryStore()
	masterA, masterB := masterKey(t), masterKey(t)
	seed(t, open(t, store, masterA, c))
	k := open(t, store, masterB, c, withDecrypt(localKEK(t, masterA)))
	for _, reason := range []string{"", " \t"} {
		if _, err := k.Rewrap(context.Background(), keys.RewrapOptions{Reason: reason}); err == nil {
			t.Errorf("reason %q accepted", reason)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "cancelled"}); !errors.Is(err, context.Canceled) || res.Rewrapped != 0 {
		t.Errorf("cancelled: %s, %v", counts(res), err)
	}
	if res, err := k.Rewrap(context.Background(), keys.RewrapOptions{DryRun: true}); err != nil || res.Rewrapped != 3 {
		t.Errorf("a dry run needs no reason: %s, %v", counts(res), err)
	}
	if got := keksOf(t, store, map[string]string{localKEK(t, masterA).ID(): "A"}); got != "0b6f/1:A 7c9e/1:A 7c9e/2:A c0c0/1:shredded" {
		t.Errorf("store changed: %s", got)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzVaultWrappedVersion: the version parser of Transit ciphertexts never
// panics, and reads back the version it is given.
func FuzzVaultWrappedVersion(f *testing.F) {
	for _, s := range []string{"vault:v1:AAAA", "vault:v0:AAAA", "vault:v12:", "vault:v:AAAA", "vault:vX:AAAA",
		"vault:v1", "vault:v-1:AA", "vault:v999999999:A", "vault:v9999999999:A", "local:01", ""} {
		f.Add([]byte(s))
	}
	k, err := keys.NewVaultKEK(keys.VaultConfig{Address: "http://127.0.0.1:1", Token: "t", Key: "k"})
	if err != nil {
		f.Fatal(err)
	}
	defer k.Close()
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		v, err := k.WrappedVersion(wrapped)
		if err != nil {
			return
		}
		if v < 1 || !bytes.HasPrefix(wrapped, []byte("vault:v")) {
			t.Fatalf("%q: version %d", wrapped, v)
		}
		again, err := k.WrappedVersion(fmt.Appendf(nil, "vault:v%d:%s", v, wrapped))
		if err != nil || again != v {
			t.Fatalf("vault:v%d:…: %d, %v", v, again, err)
		}
	})
}

// lyingKEK wraps another key than it is given.
type lyingKEK struct{ keys.KEK }

func (l lyingKEK) Wrap(ctx context.Context, dek, aad []byte) ([]byte, error) {
	other := bytes.Clone(dek)
	other[0] ^= 1
	return l.KEK.Wrap(ctx, other, aad)
}

// TestRewrapChecksTheNewWrapping: the old wrapping is overwritten only
// once the new one is seen to give the same DEK back.
func TestRewrapChecksTheNewWrapping(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := keys.NewMemoryStore()
	masterA, masterB := masterKey(t), masterKey(t)
	kekA := localKEK(t, masterA)
	seed(t, open(t, store, masterA, c))
	k := open(t, store, nil, c, func(cfg *keys.Config) {
		cfg.KEK, cfg.DecryptKEKs = lyingKEK{localKEK(t, masterB)}, []keys.KEK{kekA}
	})
	res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "faulty KEK"})
	if err != nil || counts(res) != "rewrapped=0 current=0 shredded=1 failed=3" {
		t.Fatalf("Rewrap = %s, %v", counts(res), err)
	}
	if !strings.Contains(res.Failed[0].Error(), "unwraps another key than it wrapped") {
		t.Errorf("failure: %v", res.Failed[0])
	}
	if got := keksOf(t, store, map[string]string{kekA.ID(): "A"}); got != "0b6f/1:A 7c9e/1:A 7c9e/2:A c0c0/1:shredded" {
		t.Errorf("store changed: %s", got)
	}
}
