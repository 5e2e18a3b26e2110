package keys_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/internal/fakeclock"
	"github.com/inopsio/spine/internal/pgtest"
	"github.com/inopsio/spine/keys"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock that tests move by hand.
type clock = fakeclock.Clock

func newClock() *clock { return fakeclock.New(time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)) }

const day = 24 * time.Hour

// masterKey is a fresh random local master key.
func masterKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// storeKind opens stores of one kind; each call to open is another handle
// on the same keys (another process, as far as the store can tell).
type storeKind struct {
	name string
	open func(t testing.TB) keys.Store
}

// storeKinds are the stores every keyring behaviour is tested on. The
// PostgreSQL one skips (or fails under SPINE_REQUIRE_SERVICES=1) without
// SPINE_TEST_POSTGRES.
func storeKinds(t testing.TB) []storeKind {
	mem := keys.NewMemoryStore()
	path := filepath.Join(t.TempDir(), "keys", "keyring.json")
	table := "spine_keys_test_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	return []storeKind{
		{"memory", func(testing.TB) keys.Store { return mem }},
		{"file", func(t testing.TB) keys.Store {
			s, err := keys.OpenFileStore(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(t testing.TB) keys.Store { return openPostgres(t, table) }},
	}
}

func openPostgres(t testing.TB, table string) keys.Store {
	t.Helper()
	url := bustest.Service(t, "SPINE_TEST_POSTGRES")
	pgtest.DropAtCleanup(t, url, table) // several stores may share table: each drops it, once is enough
	s, err := keys.OpenPostgresStore(context.Background(), url, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// open returns a Keyring on store with a local KEK and the clock.
func open(t testing.TB, store keys.Store, master []byte, c *clock, tweak ...func(*keys.Config)) *keys.Keyring {
	t.Helper()
	cfg := keys.Config{Store: store, MasterKey: master, Now: c.Now}
	for _, f := range tweak {
		f(&cfg)
	}
	k, err := keys.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

const tenantA = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
const tenantB = "0b6f2a4e-5c1d-4e8f-9a2b-3c4d5e6f7a8b"
