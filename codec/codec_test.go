package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

func TestEncodeLayout(t *testing.T) {
	rec := leadRecord(t, hdr(codec.HeaderTraceparent, "00-"+leadTraceID+"-00f067aa0ba902b7-01"))
	if rec.Topic != "lead.created" || string(rec.Key) != leadTenant {
		t.Fatalf("topic %q key %q", rec.Topic, rec.Key)
	}
	want := []string{"event_id", "event_name", "source", "timestamp", "tenant_id", "trace_id", "version", "schema", "traceparent"}
	if len(rec.Headers) != len(want) {
		t.Fatalf("got %d headers, want %d", len(rec.Headers), len(want))
	}
	for i, name := range want {
		if rec.Headers[i].Key != name {
			t.Errorf("header #%d is %q, want %q", i, rec.Headers[i].Key, name)
		}
	}
	if got := envelopeHeaderValue(t, rec, "timestamp"); got != "2025-10-24T14:00:00Z" {
		t.Errorf("timestamp header %q", got)
	}
	wantValue := append([]byte{0, 0, 0, 0, 1}, leadPayload...)
	if !bytes.Equal(rec.Value, wantValue) {
		t.Errorf("value\n got %x\nwant %x", rec.Value, wantValue)
	}
	// Every part is capped so appending to one cannot clobber its neighbour.
	if cap(rec.Key) != len(rec.Key) || cap(rec.Headers[0].Value) != len(rec.Headers[0].Value) {
		t.Error("record parts share spare capacity")
	}
}

func TestEncodeTimestampMatchesFormatTimestamp(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC),
		time.Date(2025, 10, 24, 14, 0, 0, 120_000_000, time.UTC),
		time.Date(2025, 10, 24, 14, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("zero offset", 0)),
	} {
		env := leadEnvelope()
		env.Header.Timestamp = ts
		rec, err := codec.Encode("lead.created", env, 1)
		if err != nil {
			t.Fatalf("%v: %v", ts, err)
		}
		if got, want := envelopeHeaderValue(t, rec, "timestamp"), event.FormatTimestamp(ts); got != want {
			t.Errorf("timestamp header %q, FormatTimestamp %q", got, want)
		}
		d, err := codec.Decode(rec)
		if err != nil {
			t.Fatalf("%v: %v", ts, err)
		}
		if !d.Envelope.Header.Timestamp.Equal(ts) {
			t.Errorf("timestamp %v came back as %v", ts, d.Envelope.Header.Timestamp)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		schemaID int
		mutate   func(*event.Envelope)
		extra    []codec.Header
	}{
		{"plain", 1, func(*event.Envelope) {}, nil},
		{"max schema id", math.MaxInt32, func(*event.Envelope) {}, nil},
		{"byte boundary schema id", 0x01020304, func(*event.Envelope) {}, nil},
		{"nanosecond timestamp", 7, func(e *event.Envelope) {
			e.Header.Timestamp = time.Date(2025, 10, 24, 14, 0, 0, 987654321, time.UTC)
		}, nil},
		{"prerelease version", 7, func(e *event.Envelope) { e.Header.Version = "1.2.0-rc.1+build.5" }, nil},
		{"payload bytes kept as given", 7, func(e *event.Envelope) {
			e.Payload = []byte("{ \"name\" : \"Zoë\",\n  \"n\": 1.50 }\n")
		}, nil},
		{"extra headers", 7, func(*event.Envelope) {}, []codec.Header{
			hdr(codec.HeaderTraceparent, "00-"+leadTraceID+"-00f067aa0ba902b7-01"),
			hdr(codec.HeaderTracestate, "congo=t61rcWkgMzE"),
			hdr(codec.HeaderAuthorization, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
			hdr(codec.HeaderAttempt, "2"),
			hdr("x-empty", ""),
			hdr("x-ünïcode", "värde"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := leadEnvelope()
			tt.mutate(&env)
			rec, err := codec.Encode("lead.created", env, tt.schemaID, tt.extra...)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			d, err := codec.Decode(rec)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got := d.Envelope.Header
			want := env.Header
			if !got.Timestamp.Equal(want.Timestamp) {
				t.Errorf("timestamp %v, want %v", got.Timestamp, want.Timestamp)
			}
			got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
			if got != want {
				t.Errorf("header\n got %+v\nwant %+v", got, want)
			}
			if !bytes.Equal(d.Envelope.Payload, env.Payload) {
				t.Errorf("payload %q, want %q", d.Envelope.Payload, env.Payload)
			}
			if d.SchemaID != tt.schemaID {
				t.Errorf("schema id %d, want %d", d.SchemaID, tt.schemaID)
			}
			if !sameHeaders(d.Extra, tt.extra) {
				t.Errorf("extra %v, want %v", d.Extra, tt.extra)
			}
			if tt.extra == nil && d.Extra != nil {
				t.Errorf("extra %#v, want nil", d.Extra)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		topic    string
		schemaID int
		mutate   func(*event.Envelope)
		extra    []codec.Header
		field    string
	}{
		{"empty topic", "", 1, nil, nil, "topic"},
		{"schema id 0", "t.x", 0, nil, nil, "schema_id"},
		{"negative schema id", "t.x", -1, nil, nil, "schema_id"},
		{"schema id above int32", "t.x", math.MaxInt32 + 1, nil, nil, "schema_id"},
		{"empty payload", "t.x", 1, func(e *event.Envelope) { e.Payload = nil }, nil, "payload"},
		{"invalid event_id", "t.x", 1, func(e *event.Envelope) { e.Header.EventID = "x" }, nil, "header:event_id"},
		{"missing source", "t.x", 1, func(e *event.Envelope) { e.Header.Source = "" }, nil, "header:source"},
		{"timestamp not utc", "t.x", 1, func(e *event.Envelope) {
			e.Header.Timestamp = time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
		}, nil, "header:timestamp"},
		{"year 10000", "t.x", 1, func(e *event.Envelope) {
			e.Header.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, nil, "header:timestamp"},
		{"year -1", "t.x", 1, func(e *event.Envelope) {
			e.Header.Timestamp = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		}, nil, "header:timestamp"},
		{"extra named like envelope header", "t.x", 1, nil, []codec.Header{hdr("event_id", "x")}, "header:event_id"},
		{"extra named key", "t.x", 1, nil, []codec.Header{hdr("key", "x")}, "header:key"},
		{"extra named value", "t.x", 1, nil, []codec.Header{hdr("value", "x")}, "header:value"},
		{"extra with empty name", "t.x", 1, nil, []codec.Header{hdr("", "x")}, "header"},
		{"extra name not utf-8", "t.x", 1, nil, []codec.Header{hdr("x-\xff", "x")}, "header"},
		{"extra value not utf-8", "t.x", 1, nil, []codec.Header{hdr("x-a", "\xc3\x28")}, "header:x-a"},
		{"extra twice", "t.x", 1, nil, []codec.Header{hdr("x-a", "1"), hdr("x-b", "2"), hdr("x-a", "3")}, "header:x-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := leadEnvelope()
			if tt.mutate != nil {
				tt.mutate(&env)
			}
			_, err := codec.Encode(tt.topic, env, tt.schemaID, tt.extra...)
			var ee *codec.EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v (%T), want *EncodeError", err, err)
			}
			if ee.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", ee.Field, tt.field, err)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("%v does not match event.ErrInvalid", err)
			}
			if !contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name %q", err, tt.field)
			}
		})
	}
}

func TestEncodeValidationErrorIsKept(t *testing.T) {
	env := leadEnvelope()
	env.Header.EventID, env.Header.TraceID = "x", "y"
	_, err := codec.Encode("lead.created", env, 1)
	var ve *event.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 2 {
		t.Fatalf("error %v, want both violations in an *event.ValidationError", err)
	}
}

func TestFrame(t *testing.T) {
	v := codec.Frame(0x01020304, []byte(`{}`))
	if want, _ := hex.DecodeString("00010203047b7d"); !bytes.Equal(v, want) {
		t.Fatalf("Frame = %x, want %x", v, want)
	}
	id, p, err := codec.Unframe(v)
	if err != nil || id != 0x01020304 || string(p) != `{}` {
		t.Fatalf("Unframe = %d, %q, %v", id, p, err)
	}
	for _, id := range []int{0, -1, math.MaxInt32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Frame(%d) did not panic", id)
				}
			}()
			codec.Frame(id, []byte(`{}`))
		}()
	}
}

func TestUnframeErrors(t *testing.T) {
	for _, tt := range []struct {
		name, hex, reason string
	}{
		{"empty", "", "shorter"},
		{"four bytes", "00000000", "shorter"},
		{"magic 1", "01000000017b7d", "magic"},
		{"schema id 0", "00000000007b7d", "schema id 0"},
		{"top bit set", "00800000017b7d", "schema id -2147483647"},
		{"no payload", "0000000001", "no payload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.hex)
			_, _, err := codec.Unframe(b)
			var de *codec.DecodeError
			if !errors.As(err, &de) || de.Field != "value" || !contains(de.Reason, tt.reason) {
				t.Fatalf("error %v, want a value error saying %q", err, tt.reason)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("%v does not match event.ErrInvalid", err)
			}
		})
	}
}

func TestRecordHeader(t *testing.T) {
	r := codec.Record{Headers: []codec.Header{hdr("a", "1"), hdr("b", "2"), hdr("a", "3"), hdr("e", "")}}
	if v, ok := r.Header("b"); !ok || string(v) != "2" {
		t.Errorf("b = %q, %v", v, ok)
	}
	if _, ok := r.Header("a"); ok {
		t.Error("a repeated header was reported")
	}
	if _, ok := r.Header("B"); ok {
		t.Error("header names must be case-sensitive")
	}
	if v, ok := r.Header("e"); !ok || len(v) != 0 {
		t.Errorf("empty header = %q, %v", v, ok)
	}
	d := codec.Decoded{Extra: r.Headers}
	if v, ok := d.Header("b"); !ok || string(v) != "2" {
		t.Errorf("Decoded.Header b = %q, %v", v, ok)
	}
}

func TestErrorMessage(t *testing.T) {
	rec := leadRecord(t)
	rec.Headers = append(rec.Headers, hdr("event_id", "5f0c8a1e-3b7d-4c52-9e8a-2d6f1b4c7a90"))
	_, err := codec.Decode(rec)
	want := `codec: cannot decode record of topic "lead.created": header:event_id: occurs twice (headers #0 and #8); a reader must not pick one`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}
