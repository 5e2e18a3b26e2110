package keys_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/inopsio/spine/keys"
)

// benchTenants is how many tenants the benchmark keyrings hold: the file
// store reads them all on every uncached call.
const benchTenants = 100

// tenantNames are made once, so that the loops measure the keyring only.
var tenantNames = func() []string {
	out := make([]string, benchTenants)
	for i := range out {
		out[i] = fmt.Sprintf("tenant-%03d", i)
	}
	return out
}()

func benchKeyring(b *testing.B, store keys.Store, ttl time.Duration) *keys.Keyring {
	b.Helper()
	c := newClock()
	k := open(b, store, masterKey(b), c, func(cfg *keys.Config) { cfg.CacheTTL = ttl })
	for _, tenant := range tenantNames {
		if _, _, err := k.Current(context.Background(), tenant); err != nil {
			b.Fatal(err)
		}
	}
	return k
}

func BenchmarkKeyring(b *testing.B) {
	stores := []struct {
		name string
		ttl  time.Duration
		open func(b *testing.B) keys.Store
	}{
		{"cached", 0, func(*testing.B) keys.Store { return keys.NewMemoryStore() }},
		{"uncached/memory", -1, func(*testing.B) keys.Store { return keys.NewMemoryStore() }},
		{"uncached/file", -1, func(b *testing.B) keys.Store {
			s, err := keys.OpenFileStore(filepath.Join(b.TempDir(), "keyring.json"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"uncached/postgres", -1, func(b *testing.B) keys.Store {
			return openPostgres(b, "spine_keys_bench_"+uuid.NewString()[:8])
		}},
	}
	ctx := context.Background()
	for _, s := range stores {
		b.Run("Current/"+s.name, func(b *testing.B) {
			k := benchKeyring(b, s.open(b), s.ttl)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := k.Current(ctx, tenantNames[i%benchTenants]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("Get/"+s.name, func(b *testing.B) {
			k := benchKeyring(b, s.open(b), s.ttl)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := k.Get(ctx, tenantNames[i%benchTenants], 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("Current/cached/parallel", func(b *testing.B) {
		k := benchKeyring(b, keys.NewMemoryStore(), 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, _, err := k.Current(ctx, tenantNames[i%benchTenants]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkRewrap: one op is a whole run over benchTenants key versions,
// local KEK to local KEK, alternating direction so that every run has all
// of them to move; ns/key is per version.
func BenchmarkRewrap(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) keys.Store
	}{
		{"memory", func(*testing.B) keys.Store { return keys.NewMemoryStore() }},
		{"file", func(b *testing.B) keys.Store {
			s, err := keys.OpenFileStore(filepath.Join(b.TempDir(), "keyring.json"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) keys.Store {
			return openPostgres(b, "spine_keys_bench_"+uuid.NewString()[:8])
		}},
	}
	ctx := context.Background()
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			store := s.open(b)
			masterA, masterB := masterKey(b), masterKey(b)
			kekA, kekB := localKEK(b, masterA), localKEK(b, masterB)
			c := newClock()
			toB := open(b, store, masterB, c, withDecrypt(kekA))
			toA := open(b, store, masterA, c, withDecrypt(kekB))
			for _, tenant := range tenantNames {
				if _, _, err := toA.Current(ctx, tenant); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := toB
				if i%2 == 1 {
					k = toA
				}
				res, err := k.Rewrap(ctx, keys.RewrapOptions{Reason: "bench"})
				if err != nil || res.Rewrapped != benchTenants {
					b.Fatalf("Rewrap = %+v, %v", res, err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchTenants), "ns/key")
		})
	}
}
