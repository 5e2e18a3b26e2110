package codec_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/schema"
)

func TestDecodeErrors(t *testing.T) {
	type mut = func(*codec.Record)
	setTS := func(ts string) mut { return func(r *codec.Record) { setHeader(r, "timestamp", ts) } }
	add := func(hs ...codec.Header) mut { return func(r *codec.Record) { r.Headers = append(r.Headers, hs...) } }
	tests := []struct {
		name   string
		mutate mut
		field  string
		reason string // substring of the reason
	}{
		// value
		{"value over limit", func(r *codec.Record) {
			r.Value = append(r.Value, make([]byte, codec.DefaultMaxValueBytes)...)
		}, "value", "over the 2097157-byte limit"},
		{"empty value", func(r *codec.Record) { r.Value = nil }, "value", "is 0 bytes"},
		{"short value", func(r *codec.Record) { r.Value = r.Value[:4] }, "value", "shorter than the 5-byte"},
		{"bad magic", func(r *codec.Record) { r.Value[0] = 1 }, "value", "magic"},
		{"schema id 0", func(r *codec.Record) { copy(r.Value[1:5], []byte{0, 0, 0, 0}) }, "value", "schema id 0"},
		{"negative schema id", func(r *codec.Record) { r.Value[1] = 0xff }, "value", "outside 1..2147483647"},
		{"empty payload", func(r *codec.Record) { r.Value = r.Value[:5] }, "value", "no payload"},
		// headers, one at a time
		{"empty header name", add(hdr("", "x")), "header", "empty name"},
		{"header name not utf-8", add(hdr("x-\xff", "x")), "header", "not UTF-8"},
		{"header named key", add(hdr("key", "x")), "header:key", "Redis"},
		{"header named value", add(hdr("value", "x")), "header:value", "Redis"},
		{"envelope value not utf-8", func(r *codec.Record) { setHeader(r, "source", "crm-\xff") }, "header:source", "not UTF-8"},
		{"extra value not utf-8", add(hdr("x-note", "\xed\xa0\x80")), "header:x-note", "not UTF-8"},
		{"duplicate event_id", add(hdr("event_id", "5f0c8a1e-3b7d-4c52-9e8a-2d6f1b4c7a90")), "header:event_id", "occurs twice"},
		{"duplicate tenant_id differing", add(hdr("tenant_id", "0d6c2b8e-1f4a-4e3b-9c7d-5a8e2f1b6c30")), "header:tenant_id", "occurs twice"},
		{"duplicate authorization", add(hdr("authorization", "Bearer a"), hdr("authorization", "Bearer b")), "header:authorization", "#8 and #9"},
		{"duplicate spine header", add(hdr("spine-attempt", "1"), hdr("x", ""), hdr("spine-attempt", "2")), "header:spine-attempt", "occurs twice"},
		{"duplicate future spine header", add(hdr("spine-new", "1"), hdr("spine-new", "1")), "header:spine-new", "occurs twice"},
		// timestamp
		{"timestamp offset +00:00", setTS("2025-10-24T14:00:00+00:00"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp offset +01:00", setTS("2025-10-24T15:00:00+01:00"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp lower-case z", setTS("2025-10-24T14:00:00z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp lower-case t", setTS("2025-10-24t14:00:00Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp space", setTS("2025-10-24 14:00:00Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp comma fraction", setTS("2025-10-24T14:00:00,5Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp empty fraction", setTS("2025-10-24T14:00:00.Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp 10 fraction digits", setTS("2025-10-24T14:00:00.1234567890Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp without seconds", setTS("2025-10-24T14:00Z"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp date only", setTS("2025-10-24"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp unix seconds", setTS("1761314400"), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp empty", setTS(""), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp trailing space", setTS("2025-10-24T14:00:00Z "), "header:timestamp", "RFC 3339 UTC"},
		{"timestamp month 13", setTS("2025-13-24T14:00:00Z"), "header:timestamp", "not RFC 3339"},
		{"timestamp 30 February", setTS("2025-02-30T14:00:00Z"), "header:timestamp", "not RFC 3339"},
		{"timestamp hour 24", setTS("2025-10-24T24:00:00Z"), "header:timestamp", "not RFC 3339"},
		{"timestamp leap second", setTS("2016-12-31T23:59:60Z"), "header:timestamp", "not RFC 3339"},
		// header validation
		{"event_id v1", func(r *codec.Record) { setHeader(r, "event_id", "6ba7b810-9dad-11d1-80b4-00c04fd430c8") }, "header:event_id", "version 1"},
		{"event_name", func(r *codec.Record) { setHeader(r, "event_name", "Lead") }, "header:event_name", "not an event name"},
		{"trace_id upper case", func(r *codec.Record) { setHeader(r, "trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736") }, "header:trace_id", "W3C"},
		{"version", func(r *codec.Record) { setHeader(r, "version", "1.0") }, "header:version", "semantic version"},
		{"schema major", func(r *codec.Record) { setHeader(r, "version", "2.0.0") }, "header:schema", "major version 1"},
		{"first of several violations", func(r *codec.Record) {
			setHeader(r, "source", "CRM")
			setHeader(r, "event_id", "nope")
		}, "header:event_id", "source:"},
		// key
		{"key mismatch", func(r *codec.Record) { r.Key = []byte("0d6c2b8e-1f4a-4e3b-9c7d-5a8e2f1b6c30") }, "key", "not the tenant_id"},
		{"key missing", func(r *codec.Record) { r.Key = nil }, "key", `is ""`},
		{"key upper case", func(r *codec.Record) { r.Key = bytes.ToUpper(r.Key) }, "key", "not the tenant_id"},
	}
	for _, name := range event.HeaderFields {
		tests = append(tests, struct {
			name   string
			mutate mut
			field  string
			reason string
		}{"missing " + name, func(r *codec.Record) { dropHeader(r, name) }, "header:" + name, "is missing"})
	}
	base := leadRecord(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := cloneRecord(base)
			tt.mutate(&rec)
			d, err := codec.Decode(rec)
			var de *codec.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %+v, %v; want a *DecodeError", d, err)
			}
			if de.Field != tt.field || !contains(de.Reason, tt.reason) {
				t.Errorf("got field %q reason %q; want field %q reason containing %q", de.Field, de.Reason, tt.field, tt.reason)
			}
			if de.Topic != "lead.created" {
				t.Errorf("topic %q", de.Topic)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("%v does not match event.ErrInvalid", err)
			}
			if msg := err.Error(); !contains(msg, `"lead.created"`) || !contains(msg, tt.field+": ") {
				t.Errorf("message %q does not say what and where", msg)
			}
		})
	}
}

func TestDecodeValidationErrorIsKept(t *testing.T) {
	rec := leadRecord(t)
	setHeader(&rec, "version", "one")
	_, err := codec.Decode(rec)
	var ve *event.ValidationError
	if !errors.As(err, &ve) || ve.Part != event.PartHeader {
		t.Fatalf("error %v, want an *event.ValidationError", err)
	}
}

func TestDecodeAccepts(t *testing.T) {
	tp := hdr(codec.HeaderTraceparent, "00-"+leadTraceID+"-00f067aa0ba902b7-01")
	tests := []struct {
		name   string
		mutate func(*codec.Record)
		check  func(*testing.T, codec.Decoded)
	}{
		{"headers in any order", func(r *codec.Record) {
			r.Headers = append([]codec.Header{hdr("x-first", "1")}, r.Headers...)
			slices.Reverse(r.Headers[1:])
			r.Headers = append(r.Headers, hdr("x-last", "2"))
		}, func(t *testing.T, d codec.Decoded) {
			if !sameHeaders(d.Extra, []codec.Header{hdr("x-first", "1"), hdr("x-last", "2")}) {
				t.Errorf("extra %v", d.Extra)
			}
		}},
		{"repeated traceparent passes, Header reports it absent", func(r *codec.Record) {
			r.Headers = append(r.Headers, tp, tp)
		}, func(t *testing.T, d codec.Decoded) {
			if len(d.Extra) != 2 {
				t.Errorf("extra %v", d.Extra)
			}
			if _, ok := d.Header(codec.HeaderTraceparent); ok {
				t.Error("a repeated traceparent was reported")
			}
		}},
		{"repeated unknown header passes", func(r *codec.Record) {
			r.Headers = append(r.Headers, hdr("x-a", "1"), hdr("x-a", "2"))
		}, nil},
		{"envelope names are case-sensitive", func(r *codec.Record) {
			r.Headers = append(r.Headers, hdr("Event_ID", "x"))
		}, nil},
		{"timestamp with trailing zeros", func(r *codec.Record) {
			setHeader(r, "timestamp", "2025-10-24T14:00:00.120Z")
		}, func(t *testing.T, d codec.Decoded) {
			if want := time.Date(2025, 10, 24, 14, 0, 0, 120e6, time.UTC); !d.Envelope.Header.Timestamp.Equal(want) {
				t.Errorf("timestamp %v", d.Envelope.Header.Timestamp)
			}
		}},
		{"nil header value reads as empty", func(r *codec.Record) {
			r.Headers = append(r.Headers, codec.Header{Key: "x-nil"})
		}, nil},
		{"value at the limit", func(r *codec.Record) {
			r.Value = append(r.Value, make([]byte, codec.DefaultMaxValueBytes-len(r.Value))...)
		}, nil},
	}
	base := leadRecord(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := cloneRecord(base)
			tt.mutate(&rec)
			d, err := codec.Decode(rec)
			if err != nil {
				t.Fatal(err)
			}
			if d.Envelope.Header.EventID != leadEnvelope().Header.EventID {
				t.Errorf("header %+v", d.Envelope.Header)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestDecoderMaxValueBytes(t *testing.T) {
	rec := leadRecord(t)
	if _, err := (codec.Decoder{MaxValueBytes: len(rec.Value)}).Decode(rec); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err := (codec.Decoder{MaxValueBytes: len(rec.Value) - 1}).Decode(rec)
	var de *codec.DecodeError
	if !errors.As(err, &de) || de.Field != "value" || !contains(de.Reason, "limit") {
		t.Errorf("over the limit: %v", err)
	}
}

// The default value limit is the schema package's payload limit plus the
// frame header, so a payload the validator accepts always fits.
func TestDefaultMaxValueBytes(t *testing.T) {
	if codec.DefaultMaxValueBytes != schema.DefaultMaxPayloadBytes+codec.FrameHeader {
		t.Errorf("DefaultMaxValueBytes %d, schema.DefaultMaxPayloadBytes %d", codec.DefaultMaxValueBytes, schema.DefaultMaxPayloadBytes)
	}
}

// Decoded aliases the record rather than copying on the hot path.
func TestDecodeAliases(t *testing.T) {
	rec := leadRecord(t, hdr("x-a", "1"))
	d, err := codec.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if &d.Envelope.Payload[0] != &rec.Value[codec.FrameHeader] {
		t.Error("payload was copied")
	}
	if &d.Extra[0] != &rec.Headers[8] || cap(d.Extra) != len(d.Extra) {
		t.Error("extra headers were copied or left with spare capacity")
	}
}
