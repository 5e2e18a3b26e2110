package schema_test

import (
	"bytes"
	"testing"
)

// BenchmarkValidatePaths compares Validate (which takes the fast path, see
// fast.go) with the reference path alone, on the spec's valid payloads and
// on an invalid one, where the fast path's attempt is pure overhead.
func BenchmarkValidatePaths(b *testing.B) {
	v := newValidator(b)
	paths := []struct {
		name string
		v    interface {
			Validate(event, version string, payload []byte) error
		}
	}{{"fast", v}, {"reference", v.ReferenceOnly()}}
	lead := mustRead(b, "testdata/spec/lead.created.json")
	payloads := []struct {
		name, event string
		payload     []byte
		valid       bool
	}{
		{"lead.created", "lead.created", lead, true},
		{"invoice.generated", "invoice.generated", mustRead(b, "testdata/spec/invoice.generated.json"), true},
		{"lead.created-invalid", "lead.created", bytes.Replace(lead, []byte("@example.com"), []byte("@example..com"), 1), false},
	}
	for _, p := range payloads {
		for _, path := range paths {
			b.Run(p.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p.payload)))
				for b.Loop() {
					if err := path.v.Validate(p.event, "", p.payload); (err == nil) != p.valid {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
