package schema_test

import "testing"

// The figures are recorded in docs/benchmarks.md.
func BenchmarkValidate(b *testing.B) {
	v := newValidator(b)
	for _, name := range []string{"lead.created", "invoice.generated"} {
		p := mustRead(b, "testdata/spec/"+name+".json")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if err := v.Validate(name, "", p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
