package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/keys"
)

// TestRotationEvery90Days crosses several rotation periods with a fake
// clock: each period brings the next version, and every older version
// still decrypts to the key it was.
func TestRotationEvery90Days(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			master := masterKey(t)
			k := open(t, kind.open(t), master, c)
			const periods = 5
			seen := map[int][]byte{}
			for want := 1; want <= periods; want++ {
				steps := []struct {
					name    string
					advance time.Duration
				}{
					{"start of the period", 0},
					{"a day before the end", 88 * day},
				}
				for _, s := range steps {
					c.Advance(s.advance)
					v, key, err := k.Current(ctx, tenantA)
					if err != nil {
						t.Fatalf("period %d, %s: %v", want, s.name, err)
					}
					if v != want || len(key) != keys.DEKSize {
						t.Fatalf("period %d, %s: version %d (%d bytes), want %d", want, s.name, v, len(key), want)
					}
					if prev, ok := seen[v]; ok && !bytes.Equal(prev, key) {
						t.Fatalf("version %d changed its key", v)
					}
					seen[v] = key
				}
				c.Advance(2 * day) // 90 days since the version was made: it is due
			}
			for v, want := range seen {
				got, err := k.Get(ctx, tenantA, v)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("Get version %d = %x, %v; want the key Current gave", v, got, err)
				}
			}
			for v := 1; v < periods; v++ {
				if bytes.Equal(seen[v], seen[v+1]) {
					t.Errorf("versions %d and %d have the same key", v, v+1)
				}
			}
			// A fresh keyring (another process, cold cache) on the same
			// store decrypts every version too, and rotates the overdue one.
			k2 := open(t, kind.open(t), master, c)
			for v, want := range seen {
				if got, err := k2.Get(ctx, tenantA, v); err != nil || !bytes.Equal(got, want) {
					t.Errorf("other keyring: Get version %d: %v", v, err)
				}
			}
			if v, _, err := k2.Current(ctx, tenantA); err != nil || v != periods+1 {
				t.Errorf("other keyring: Current after the last period = %d, %v; want %d", v, err, periods+1)
			}
		})
	}
}

func TestShred(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			k := open(t, kind.open(t), masterKey(t), c)
			if _, _, err := k.Current(ctx, tenantA); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Rotate(ctx, tenantA); err != nil {
				t.Fatal(err)
			}
			_, keyB, err := k.Current(ctx, tenantB)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Shred(ctx, tenantA, "GDPR erasure request #4711"); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				version int
				want    error
			}{{1, keys.ErrShredded}, {2, keys.ErrShredded}, {3, keys.ErrUnknownVersion}, {0, keys.ErrUnknownVersion}} {
				if _, err := k.Get(ctx, tenantA, tc.version); !errors.Is(err, tc.want) {
					t.Errorf("Get(A, %d) after shred: %v, want %v", tc.version, err, tc.want)
				}
			}
			if got, err := k.Get(ctx, tenantB, 1); err != nil || !bytes.Equal(got, keyB) {
				t.Errorf("tenant B after A's shred: %v", err)
			}
			// Shredding again is a no-op; an unknown tenant is an error.
			if err := k.Shred(ctx, tenantA, "again"); err != nil {
				t.Errorf("second shred: %v", err)
			}
			if err := k.Shred(ctx, "never-seen", "typo"); !errors.Is(err, keys.ErrUnknownTenant) {
				t.Errorf("shred of an unknown tenant: %v, want ErrUnknownTenant", err)
			}
			if err := k.Shred(ctx, tenantB, "  "); err == nil {
				t.Error("shred without a reason succeeded")
			}
			// A fresh start after the shred: numbering continues.
			v, key, err := k.Current(ctx, tenantA)
			if err != nil || v != 3 {
				t.Fatalf("Current after shred = %d, %v; want 3", v, err)
			}
			if got, err := k.Get(ctx, tenantA, 3); err != nil || !bytes.Equal(got, key) {
				t.Errorf("Get(A, 3) = %v", err)
			}
			infos, err := k.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var states []string
			for _, in := range infos {
				states = append(states, fmt.Sprintf("%s/%d:%s", in.Tenant[:4], in.Version, in.State))
				if in.State == keys.Shredded && (in.ShreddedAt.IsZero() || in.KEK != "") {
					t.Errorf("shredded info %+v", in)
				}
			}
			want := "0b6f/1:active 7c9e/1:shredded 7c9e/2:shredded 7c9e/3:active"
			if got := strings.Join(states, " "); got != want {
				t.Errorf("List states = %s, want %s", got, want)
			}
		})
	}
}

// TestShredElsewhereWithinTTL: a shred by another process reaches this
// one's cache within the TTL, not before (the documented trade-off).
func TestShredElsewhereWithinTTL(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store, master := keys.NewMemoryStore(), masterKey(t)
	reader := open(t, store, master, c, func(cfg *keys.Config) { cfg.CacheTTL = time.Minute })
	other := open(t, store, master, c)
	if _, _, err := other.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, tenantA, 1); err != nil {
		t.Fatal(err)
	}
	if err := other.Shred(ctx, tenantA, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, tenantA, 1); err != nil {
		t.Errorf("within the TTL the cached key still serves: %v", err)
	}
	c.Advance(time.Minute)
	if _, err := reader.Get(ctx, tenantA, 1); !errors.Is(err, keys.ErrShredded) {
		t.Errorf("after the TTL: %v, want ErrShredded", err)
	}
	// Through the same keyring, a shred takes effect at once.
	if _, _, err := reader.Current(ctx, tenantB); err != nil {
		t.Fatal(err)
	}
	if err := reader.Shred(ctx, tenantB, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, tenantB, 1); !errors.Is(err, keys.ErrShredded) {
		t.Errorf("own shred: %v, want ErrShredded", err)
	}
}

// TestTamperedKeys: a wrapped DEK that was altered, moved to another
// tenant or version, or wrapped by another KEK does not unwrap.
func TestTamperedKeys(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	src, master := keys.NewMemoryStore(), masterKey(t)
	k := open(t, src, master, c)
	if _, _, err := k.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	good, err := src.Version(ctx, tenantA, 1)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) func(*keys.Record) {
		return func(r *keys.Record) { r.Wrapped[i] ^= 0x01 }
	}
	tests := []struct {
		name   string
		change func(*keys.Record)
		get    [2]any // tenant, version to ask for
	}{
		{"flipped format byte", flip(0), [2]any{tenantA, 1}},
		{"flipped nonce byte", flip(5), [2]any{tenantA, 1}},
		{"flipped ciphertext byte", flip(20), [2]any{tenantA, 1}},
		{"flipped tag byte", func(r *keys.Record) { r.Wrapped[len(r.Wrapped)-1] ^= 0x80 }, [2]any{tenantA, 1}},
		{"truncated", func(r *keys.Record) { r.Wrapped = r.Wrapped[:20] }, [2]any{tenantA, 1}},
		{"moved to another tenant (AAD)", func(r *keys.Record) { r.Tenant = tenantB }, [2]any{tenantB, 1}},
		{"moved to another version (AAD)", func(r *keys.Record) { r.Version = 2 }, [2]any{tenantA, 2}},
		{"wrapped by another KEK", func(r *keys.Record) { r.KEK = "local:0000000000000000" }, [2]any{tenantA, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			r.Wrapped = bytes.Clone(good.Wrapped)
			tc.change(&r)
			dst := keys.NewMemoryStore()
			if ok, err := dst.Insert(ctx, r); !ok || err != nil {
				t.Fatal(ok, err)
			}
			k := open(t, dst, master, c)
			key, err := k.Get(ctx, tc.get[0].(string), tc.get[1].(int))
			if !errors.Is(err, keys.ErrUnwrap) || key != nil {
				t.Fatalf("Get = %x, %v; want ErrUnwrap", key, err)
			}
			if _, _, err := k.Current(ctx, tc.get[0].(string)); !errors.Is(err, keys.ErrUnwrap) {
				t.Errorf("Current = %v; want ErrUnwrap", err)
			}
		})
	}
	// The untouched record does unwrap (the test can fail the other way).
	dst := keys.NewMemoryStore()
	if _, err := dst.Insert(ctx, good); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dst, master, c).Get(ctx, tenantA, 1); err != nil {
		t.Errorf("untouched record: %v", err)
	}
	// Another master key: the KEK ID differs, and says so.
	_, err = open(t, dst, masterKey(t), c).Get(ctx, tenantA, 1)
	if !errors.Is(err, keys.ErrUnwrap) || !strings.Contains(err.Error(), "wrapped by KEK") {
		t.Errorf("other master key: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	k := open(t, keys.NewMemoryStore(), masterKey(t), newClock())
	tenants := []struct{ name, tenant string }{
		{"empty", ""},
		{"too long", strings.Repeat("x", keys.MaxTenantLen+1)},
		{"not UTF-8", "\xff\xfe"},
		{"newline", "a\nb"},
		{"NUL", "a\x00b"},
	}
	for _, tc := range tenants {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := k.Current(ctx, tc.tenant); !errors.Is(err, keys.ErrInvalidTenant) {
				t.Errorf("Current: %v", err)
			}
			if _, err := k.Get(ctx, tc.tenant, 1); !errors.Is(err, keys.ErrInvalidTenant) {
				t.Errorf("Get: %v", err)
			}
			if _, err := k.Rotate(ctx, tc.tenant); !errors.Is(err, keys.ErrInvalidTenant) {
				t.Errorf("Rotate: %v", err)
			}
			if err := k.Shred(ctx, tc.tenant, "r"); !errors.Is(err, keys.ErrInvalidTenant) {
				t.Errorf("Shred: %v", err)
			}
		})
	}
	if _, err := k.Rotate(ctx, tenantA); !errors.Is(err, keys.ErrUnknownTenant) {
		t.Errorf("Rotate of a tenant without keys: %v", err)
	}
	for _, v := range []int{-1, 0, 1, 7} {
		if _, err := k.Get(ctx, tenantA, v); !errors.Is(err, keys.ErrUnknownVersion) {
			t.Errorf("Get(%d) without keys: %v", v, err)
		}
	}
	if _, err := keys.Open(ctx, keys.Config{Store: keys.NewMemoryStore(), MasterKey: make([]byte, 16)}); err == nil {
		t.Error("a 16-byte master key was accepted")
	}
}

func TestRotateAndRotateDue(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	k := open(t, keys.NewMemoryStore(), masterKey(t), c)
	const tenantC = "c0c0c0c0-0000-4000-8000-000000000000"
	for _, tenant := range []string{tenantA, tenantB} {
		if _, _, err := k.Current(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(60 * day)
	if _, _, err := k.Current(ctx, tenantC); err != nil {
		t.Fatal(err)
	}
	// A forced rotation does not wait for the period.
	in, err := k.Rotate(ctx, tenantB)
	if err != nil || in.Version != 2 || in.State != keys.Active || !in.Created.Equal(c.Now()) {
		t.Fatalf("Rotate(B) = %+v, %v", in, err)
	}
	if v, _, _ := k.Current(ctx, tenantB); v != 2 {
		t.Errorf("Current(B) after Rotate = %d, want 2", v)
	}
	if due, err := k.RotateDue(ctx); err != nil || len(due) != 0 {
		t.Errorf("RotateDue at day 60 = %+v, %v; want none", due, err)
	}
	c.Advance(30 * day) // day 90: A is due; B (day 60) and C (day 60) are not
	due, err := k.RotateDue(ctx)
	if err != nil || len(due) != 1 || due[0].Tenant != tenantA || due[0].Version != 2 {
		t.Fatalf("RotateDue at day 90 = %+v, %v; want A v2", due, err)
	}
	if want := due[0].Created.Add(keys.DefaultRotation); !due[0].Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", due[0].Expires, want)
	}
	if due, _ := k.RotateDue(ctx); len(due) != 0 {
		t.Errorf("RotateDue twice: %+v", due)
	}
	// A shredded tenant is not rotated by RotateDue.
	if err := k.Shred(ctx, tenantC, "test"); err != nil {
		t.Fatal(err)
	}
	c.Advance(100 * day)
	due, err = k.RotateDue(ctx)
	var got []string
	for _, in := range due {
		got = append(got, fmt.Sprintf("%s/%d", in.Tenant[:4], in.Version))
	}
	if err != nil || strings.Join(got, " ") != "0b6f/3 7c9e/3" {
		t.Errorf("RotateDue at day 190 = %v, %v; want B and A v3", got, err)
	}
}

// TestConcurrentCurrent: keyrings of several processes (separate store
// handles) asking for a key at once create each version exactly once.
func TestConcurrentCurrent(t *testing.T) {
	for _, kind := range storeKinds(t) {
		if kind.name == "memory" {
			continue // one handle only; the file and PostgreSQL stores are the shared ones
		}
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			master := masterKey(t)
			const processes, callers = 3, 8
			rings := make([]*keys.Keyring, processes)
			for i := range rings {
				rings[i] = open(t, kind.open(t), master, c)
			}
			race := func() (map[int]int, map[string]bool) {
				var mu sync.Mutex
				versions, distinct := map[int]int{}, map[string]bool{}
				var wg sync.WaitGroup
				for _, k := range rings {
					for range callers {
						wg.Go(func() {
							v, key, err := k.Current(ctx, tenantA)
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							defer mu.Unlock()
							versions[v]++
							distinct[fmt.Sprintf("%d:%x", v, key)] = true
						})
					}
				}
				wg.Wait()
				return versions, distinct
			}
			for round, want := range []int{1, 2} {
				versions, distinct := race()
				if len(versions) != 1 || versions[want] != processes*callers || len(distinct) != 1 {
					t.Fatalf("round %d: versions %v, %d distinct keys; want every caller on version %d with one key", round, versions, len(distinct), want)
				}
				infos, err := rings[0].List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(infos) != want {
					t.Fatalf("round %d: %d versions stored, want %d", round, len(infos), want)
				}
				c.Advance(keys.DefaultRotation)
			}
		})
	}
}

func TestListNeverShowsKeys(t *testing.T) {
	ctx := context.Background()
	store := keys.NewMemoryStore()
	k := open(t, store, masterKey(t), newClock())
	_, key, err := k.Current(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := store.Version(ctx, tenantA, 1)
	infos, err := k.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(infos)
	for _, secret := range [][]byte{key, rec.Wrapped} {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(secret), fmt.Sprintf("%x", secret)} {
			if strings.Contains(string(out), enc) {
				t.Fatalf("List's JSON shows key material: %s", out)
			}
		}
	}
	if len(infos) != 1 || infos[0].State != keys.Active || infos[0].KEK != k.KEKID() {
		t.Errorf("List = %s", out)
	}
}

// TestCallersOwnTheirKeys: changing a returned key does not change the
// cached one.
func TestCallersOwnTheirKeys(t *testing.T) {
	ctx := context.Background()
	k := open(t, keys.NewMemoryStore(), masterKey(t), newClock())
	_, key, err := k.Current(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(key)
	clear(key)
	got, _ := k.Get(ctx, tenantA, 1)
	_, cur, _ := k.Current(ctx, tenantA)
	if !bytes.Equal(got, want) || !bytes.Equal(cur, want) {
		t.Error("zeroing a returned key changed the keyring's")
	}
}

// TestCancelledContext: a cancelled caller returns at once with its
// context's error.
func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := open(t, keys.NewMemoryStore(), masterKey(t), newClock())
	if _, _, err := k.Current(ctx, tenantA); !errors.Is(err, context.Canceled) {
		t.Errorf("Current with a cancelled context: %v", err)
	}
}

// TestRotationNotDelayedByCache: a key cached seconds before it is due is
// not served after it is due.
func TestRotationNotDelayedByCache(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	k := open(t, keys.NewMemoryStore(), masterKey(t), c, func(cfg *keys.Config) { cfg.CacheTTL = time.Hour })
	if _, _, err := k.Current(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	c.Advance(keys.DefaultRotation - 10*time.Second)
	if v, _, err := k.Current(ctx, tenantA); err != nil || v != 1 {
		t.Fatalf("10 s before the end: version %d, %v", v, err)
	}
	c.Advance(20 * time.Second)
	if v, _, err := k.Current(ctx, tenantA); err != nil || v != 2 {
		t.Errorf("10 s after the end, with a fresh cache entry: version %d, %v; want 2", v, err)
	}
}
