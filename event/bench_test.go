package event_test

import "testing"

func BenchmarkHeaderValidate(b *testing.B) {
	h := validHeader()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
