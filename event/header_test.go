package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/event"
)

func validHeader() event.Header {
	return event.Header{
		EventID:   "0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f",
		EventName: "lead.created",
		Source:    "crm-service",
		Timestamp: time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC),
		TenantID:  "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Version:   "1.0.0",
		Schema:    "crm-lead-schema-v1",
	}
}

func TestHeaderValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*event.Header)
		pointer string // "" = valid
		reason  string // substring of the reason
	}{
		{"valid", func(*event.Header) {}, "", ""},
		{"prerelease version", func(h *event.Header) { h.Version = "1.2.0-rc.1" }, "", ""},
		{"missing event_id", func(h *event.Header) { h.EventID = "" }, "/event_id", "event_id: is required"},
		{"event_id not a uuid", func(h *event.Header) { h.EventID = "abc" }, "/event_id", "not a canonical"},
		{"event_id upper case", func(h *event.Header) { h.EventID = strings.ToUpper(validHeader().EventID) }, "/event_id", "lower-case"},
		{"event_id braces", func(h *event.Header) { h.EventID = "{0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f}" }, "/event_id", "canonical"},
		{"event_id urn", func(h *event.Header) { h.EventID = "urn:uuid:0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f" }, "/event_id", "canonical"},
		{"event_id v1", func(h *event.Header) { h.EventID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8" }, "/event_id", "version 1"},
		{"event_id wrong variant", func(h *event.Header) { h.EventID = "0b8e6a4e-8f3c-4d4f-ca57-3b2f0c1d2e3f" }, "/event_id", "RFC 4122"},
		{"missing event_name", func(h *event.Header) { h.EventName = "" }, "/event_name", "is required"},
		{"event_name one word", func(h *event.Header) { h.EventName = "lead" }, "/event_name", "not an event name"},
		{"event_name upper", func(h *event.Header) { h.EventName = "Lead.Created" }, "/event_name", "not an event name"},
		{"event_name too long", func(h *event.Header) { h.EventName = "a." + strings.Repeat("b", 200) }, "/event_name", "…"},
		{"missing source", func(h *event.Header) { h.Source = "" }, "/source", "is required"},
		{"source with space", func(h *event.Header) { h.Source = "crm service" }, "/source", "not a service name"},
		{"zero timestamp", func(h *event.Header) { h.Timestamp = time.Time{} }, "/timestamp", "is required"},
		{"timestamp not utc", func(h *event.Header) {
			h.Timestamp = time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
		}, "/timestamp", "not in UTC"},
		{"tenant_id not uuid", func(h *event.Header) { h.TenantID = "tenant-1" }, "/tenant_id", "UUID"},
		{"missing trace_id", func(h *event.Header) { h.TraceID = "" }, "/trace_id", "is required"},
		{"trace_id short", func(h *event.Header) { h.TraceID = "abc" }, "/trace_id", "W3C trace id"},
		{"trace_id upper hex", func(h *event.Header) { h.TraceID = "4BF92F3577B34DA6A3CE929D0E0E4736" }, "/trace_id", "W3C trace id"},
		{"trace_id zero", func(h *event.Header) { h.TraceID = strings.Repeat("0", 32) }, "/trace_id", "all-zero"},
		{"missing version", func(h *event.Header) { h.Version = "" }, "/version", "is required"},
		{"version two parts", func(h *event.Header) { h.Version = "1.0" }, "/version", "semantic version"},
		{"version leading zero", func(h *event.Header) { h.Version = "01.0.0" }, "/version", "semantic version"},
		{"missing schema", func(h *event.Header) { h.Schema = "" }, "/schema", "is required"},
		{"schema without version", func(h *event.Header) { h.Schema = "crm-lead" }, "/schema", "not a schema name"},
		{"schema major mismatch", func(h *event.Header) { h.Version = "2.0.0" }, "/schema", "major version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeader()
			tt.mutate(&h)
			err := h.Validate()
			if tt.pointer == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *event.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want *ValidationError", err)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if ve.Part != event.PartHeader {
				t.Errorf("Part = %q, want header", ve.Part)
			}
			if len(ve.Violations) != 1 {
				t.Fatalf("violations = %v, want exactly one", ve.Violations)
			}
			v := ve.Violations[0]
			if v.Pointer != tt.pointer || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("violation = %q, want pointer %q with reason containing %q", v, tt.pointer, tt.reason)
			}
			field := strings.TrimPrefix(tt.pointer, "/")
			if !strings.HasPrefix(v.Reason, field+":") {
				t.Errorf("reason %q does not name the field %q", v.Reason, field)
			}
		})
	}
}

func TestHeaderValidateReportsEveryViolation(t *testing.T) {
	err := event.Header{}.Validate()
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want *ValidationError", err)
	}
	if got, want := len(ve.Violations), len(event.HeaderFields); got != want {
		t.Errorf("got %d violations, want one per field (%d): %v", got, want, ve.Violations)
	}
}

func TestNewHeaderFills(t *testing.T) {
	h := validHeader()
	h.EventID, h.TraceID, h.Timestamp = "", "", time.Time{}
	before := time.Now()
	got, err := event.NewHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID == "" || got.TraceID == "" {
		t.Errorf("NewHeader did not fill event_id/trace_id: %+v", got)
	}
	if got.Timestamp.Before(before.Add(-time.Second)) || got.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp = %v, want now in UTC", got.Timestamp)
	}
	again, _ := event.NewHeader(h)
	if again.EventID == got.EventID || again.TraceID == got.TraceID {
		t.Errorf("two headers share an id: %s / %s", got.EventID, got.TraceID)
	}
}

func TestNewHeaderKeepsCallerFields(t *testing.T) {
	h := validHeader()
	got, err := event.NewHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Errorf("NewHeader changed set fields:\n got %+v\nwant %+v", got, h)
	}
}

func TestNewHeaderConvertsToUTC(t *testing.T) {
	h := validHeader()
	h.Timestamp = time.Date(2025, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	got, err := event.NewHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Timestamp.Equal(h.Timestamp) || got.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp = %v", got.Timestamp)
	}
}

func TestNewHeaderRejectsInvalid(t *testing.T) {
	h := validHeader()
	h.TenantID = "nope"
	if _, err := event.NewHeader(h); !errors.Is(err, event.ErrInvalid) {
		t.Fatalf("NewHeader = %v, want ErrInvalid", err)
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"2025-10-24T14:00:00Z", time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC), ""},
		{"2025-10-24T14:00:00.123456789Z", time.Date(2025, 10, 24, 14, 0, 0, 123456789, time.UTC), ""},
		{"2025-10-24T14:00:00+00:00", time.Time{}, "not in UTC"},
		{"2025-10-24T16:00:00+02:00", time.Time{}, "not in UTC"},
		{"2025-10-24 14:00:00Z", time.Time{}, "not RFC 3339"},
		{"", time.Time{}, "not RFC 3339"},
		{"yesterday", time.Time{}, "not RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := event.ParseTimestamp(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTimestamp(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("ParseTimestamp(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if back := event.FormatTimestamp(got); back != tt.in {
				t.Errorf("FormatTimestamp round trip = %q, want %q", back, tt.in)
			}
		})
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2025-10-24T14:00:00Z", "2025-10-24T14:00:00.5Z", "2025-10-24T14:00:00+01:00", "", "Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := event.ParseTimestamp(s)
		if err != nil {
			return
		}
		if ts.Location() != time.UTC {
			t.Fatalf("ParseTimestamp(%q) returned a non-UTC time", s)
		}
		again, err := event.ParseTimestamp(event.FormatTimestamp(ts))
		if err != nil || !again.Equal(ts) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}

func FuzzHeaderValidate(f *testing.F) {
	h := validHeader()
	f.Add(h.EventID, h.EventName, h.Source, h.TenantID, h.TraceID, h.Version, h.Schema)
	f.Add("", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, id, name, source, tenant, trace, version, schema string) {
		h := event.Header{EventID: id, EventName: name, Source: source, Timestamp: time.Unix(1, 0).UTC(),
			TenantID: tenant, TraceID: trace, Version: version, Schema: schema}
		err := h.Validate()
		if err == nil {
			return
		}
		var ve *event.ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) == 0 {
			t.Fatalf("Validate() = %v, want a *ValidationError with violations", err)
		}
		for _, v := range ve.Violations {
			if len(v.Reason) > 512 {
				t.Fatalf("reason is %d bytes: hostile input must be clipped", len(v.Reason))
			}
		}
	})
}
