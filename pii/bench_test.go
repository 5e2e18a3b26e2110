package pii_test

import (
	"context"
	"testing"
)

// The figures are recorded in docs/benchmarks.md. The key store is the
// in-memory fake: a real one (package keys) adds its own lookup cost.
func benchPayloads(b *testing.B) []struct {
	name, event string
	payload     []byte
} {
	return []struct {
		name, event string
		payload     []byte
	}{
		{"field", "lead.created", []byte(`{"name":"John Doe"}`)},
		{"lead.created", "lead.created", catalogExample(b, "lead.created")},
		{"customer.synced", "customer.synced", catalogExample(b, "customer.synced")},
		{"no-pii", "invoice.generated", catalogExample(b, "invoice.generated")},
	}
}

func BenchmarkEncrypt(b *testing.B) {
	ctx := context.Background()
	c := newCipher(b, newMemKeys().add(tenantA, 1, seqKey(0)))
	for _, p := range benchPayloads(b) {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.payload)))
			for b.Loop() {
				if _, err := c.Encrypt(ctx, p.event, "", tenantA, eventA, p.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	ctx := context.Background()
	c := newCipher(b, newMemKeys().add(tenantA, 1, seqKey(0)))
	for _, p := range benchPayloads(b) {
		enc, err := c.Encrypt(ctx, p.event, "", tenantA, eventA, p.payload)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := c.Decrypt(ctx, p.event, "", tenantA, eventA, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	c := newCipher(b, newMemKeys())
	p := catalogExample(b, "lead.created")
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := c.Redact("lead.created", "", p); err != nil {
			b.Fatal(err)
		}
	}
}
