package bustest

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/pii"
)

// NewPIICipher returns a PII cipher over a fresh in-memory keyring (random
// master key), closed at t's cleanup: what a test client needs to publish
// events that carry PII fields, as every client must (bus.WithPII).
func NewPIICipher(t testing.TB, cat *catalog.Catalog) *pii.Cipher {
	t.Helper()
	master := make([]byte, keys.DEKSize)
	_, _ = rand.Read(master)
	ring, err := keys.Open(context.Background(), keys.Config{Store: keys.NewMemoryStore(), MasterKey: master})
	if err != nil {
		t.Fatalf("bustest: keyring: %v", err)
	}
	t.Cleanup(func() { _ = ring.Close() })
	c, err := pii.New(cat, ring)
	if err != nil {
		t.Fatalf("bustest: PII cipher: %v", err)
	}
	return c
}
