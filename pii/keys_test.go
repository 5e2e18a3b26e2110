package pii_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/pii"
)

// The fake key store's errors, standing in for keys.ErrUnknownVersion and
// keys.ErrShredded: the Cipher must pass them through for errors.Is.
var (
	errUnknownVersion = errors.New("fake keys: unknown key version")
	errShredded       = errors.New("fake keys: tenant keys shredded")
)

// memKeys is an in-memory pii.Keys.
type memKeys struct {
	mu       sync.Mutex
	keys     map[string]map[int][]byte // tenant → version → key
	current  map[string]int
	shredded map[string]bool
	gets     int // Get calls, to check per-payload key reuse
}

func newMemKeys() *memKeys {
	return &memKeys{keys: map[string]map[int][]byte{}, current: map[string]int{}, shredded: map[string]bool{}}
}

// add stores key as version of tenant and makes it current if newer.
func (m *memKeys) add(tenant string, version int, key []byte) *memKeys {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[tenant] == nil {
		m.keys[tenant] = map[int][]byte{}
	}
	m.keys[tenant][version] = key
	if version >= m.current[tenant] {
		m.current[tenant] = version
	}
	return m
}

func (m *memKeys) shred(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shredded[tenant] = true
}

func (m *memKeys) Current(_ context.Context, tenant string) (int, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shredded[tenant] {
		return 0, nil, fmt.Errorf("tenant %s: %w", tenant, errShredded)
	}
	v, ok := m.current[tenant]
	if !ok {
		return 0, nil, fmt.Errorf("tenant %s has no key: %w", tenant, errUnknownVersion)
	}
	return v, m.keys[tenant][v], nil
}

func (m *memKeys) Get(_ context.Context, tenant string, version int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if m.shredded[tenant] {
		return nil, fmt.Errorf("tenant %s: %w", tenant, errShredded)
	}
	k, ok := m.keys[tenant][version]
	if !ok {
		return nil, fmt.Errorf("tenant %s version %d: %w", tenant, version, errUnknownVersion)
	}
	return k, nil
}

const (
	tenantA = "7d3b1f0e-2c4a-4e8b-9a61-5f0c2d8e4b17"
	tenantB = "9b2d7e61-4a3f-4c8e-b5d2-7f1e0a6c3d48"
	eventA  = "5f0c8a1e-3b7d-4c52-9e8a-2d6f1b4c7a90"
	eventB  = "0c6e2b9d-8f14-4a73-b5e0-3d7a1c9f6e28"
)

// seqKey returns the 32 bytes start, start+1, ….
func seqKey(start byte) []byte {
	k := make([]byte, pii.KeySize)
	for i := range k {
		k[i] = start + byte(i)
	}
	return k
}

func newCipher(t testing.TB, k pii.Keys, opts ...pii.Option) *pii.Cipher {
	t.Helper()
	c, err := pii.New(catalog.MustDefault(), k, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// catalogExample is the catalog's example payload of an event.
func catalogExample(t testing.TB, event string) []byte {
	return mustRead(t, filepath.Join("..", "catalog", "testdata", "examples", event+".json"))
}

// mustNotLeak fails if err's message holds any of the secrets.
func mustNotLeak(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if len(s) > 0 && bytes.Contains([]byte(err.Error()), s) {
			t.Errorf("error %q leaks %q", err, s)
		}
	}
}
