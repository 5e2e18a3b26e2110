package codec_test

import (
	"testing"

	"github.com/inopsio/spine/codec"
)

// benchExtra is what a traced, authenticated publish carries.
var benchExtra = []codec.Header{
	hdr(codec.HeaderTraceparent, "00-"+leadTraceID+"-00f067aa0ba902b7-01"),
	hdr(codec.HeaderAuthorization, "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjcm0tc2VydmljZSJ9.c2lnbmF0dXJl"),
}

func BenchmarkEncode(b *testing.B) {
	env := leadEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Encode("lead.created", env, 1, benchExtra...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	rec := leadRecord(b, benchExtra...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeaderValidate is the share of Encode and Decode that
// event.Header.Validate takes, for comparison.
func BenchmarkHeaderValidate(b *testing.B) {
	h := leadEnvelope().Header
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnframe(b *testing.B) {
	v := codec.Frame(1, []byte(leadPayload))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := codec.Unframe(v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAllocs pins the codec's own allocations on the hot path, net of
// event.Header.Validate's: Encode one buffer and one header slice, Decode one
// string for all header fields.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	h := leadEnvelope().Header
	validate := testing.AllocsPerRun(100, func() { _ = h.Validate() })
	env := leadEnvelope()
	enc := testing.AllocsPerRun(100, func() { _, _ = codec.Encode("lead.created", env, 1, benchExtra...) })
	rec := leadRecord(t, benchExtra...)
	dec := testing.AllocsPerRun(100, func() { _, _ = codec.Decode(rec) })
	if enc-validate > 2 || dec-validate > 1 {
		t.Errorf("allocations beyond Validate's %v: Encode %v, Decode %v", validate, enc-validate, dec-validate)
	}
}
