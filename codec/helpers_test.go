package codec_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

const (
	leadTenant  = "9b2d7e61-4a3f-4c8e-b5d2-7f1e0a6c3d48"
	leadTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	leadPayload = `{"lead_id":"c7a1e3f2-8d4b-4f6a-9c2e-1b5d7a3f9e04","tenant_id":"9b2d7e61-4a3f-4c8e-b5d2-7f1e0a6c3d48","name":"John Doe","email":"john.doe@example.com","source":"marketing","assigned_to":"3e9a6c12-5f8b-4d7e-a1c4-6b2f8d0e9a57","created_at":"2025-10-24T14:00:00Z"}`
)

// leadEnvelope is the spec §3/§4 lead.created example with real ids.
func leadEnvelope() event.Envelope {
	return event.Envelope{
		Header: event.Header{
			EventID:   "5f0c8a1e-3b7d-4c52-9e8a-2d6f1b4c7a90",
			EventName: "lead.created",
			Source:    "crm-service",
			Timestamp: time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC),
			TenantID:  leadTenant,
			TraceID:   leadTraceID,
			Version:   "1.0.0",
			Schema:    "crm-lead-schema-v1",
		},
		Payload: json.RawMessage(leadPayload),
	}
}

// leadRecord is leadEnvelope encoded under schema id 1 with extra headers.
func leadRecord(t testing.TB, extra ...codec.Header) codec.Record {
	t.Helper()
	rec, err := codec.Encode("lead.created", leadEnvelope(), 1, extra...)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return rec
}

func hdr(k, v string) codec.Header { return codec.Header{Key: k, Value: []byte(v)} }

// cloneRecord deep-copies r so a test can mutate it.
func cloneRecord(r codec.Record) codec.Record {
	c := codec.Record{Topic: r.Topic, Key: clone(r.Key), Value: clone(r.Value)}
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, codec.Header{Key: h.Key, Value: clone(h.Value)})
	}
	return c
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// setHeader replaces the value of every header called name.
func setHeader(r *codec.Record, name, value string) {
	for i := range r.Headers {
		if r.Headers[i].Key == name {
			r.Headers[i].Value = []byte(value)
		}
	}
}

// dropHeader removes every header called name.
func dropHeader(r *codec.Record, name string) {
	hs := r.Headers[:0]
	for _, h := range r.Headers {
		if h.Key != name {
			hs = append(hs, h)
		}
	}
	r.Headers = hs
}

func envelopeHeaderValue(t testing.TB, r codec.Record, name string) string {
	t.Helper()
	v, ok := r.Header(name)
	if !ok {
		t.Fatalf("header %s not found once in %v", name, r.Headers)
	}
	return string(v)
}

func sameHeaders(a, b []codec.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || string(a[i].Value) != string(b[i].Value) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
