package codec_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// go test ./codec -run TestGolden -update rewrites testdata/vectors and
// testdata/invalid from the cases below.
var update = flag.Bool("update", false, "rewrite the golden vectors under testdata/")

const (
	validDir   = "testdata/vectors"
	invalidDir = "testdata/invalid"
)

// vector is the file format of docs/wire-format.md ("Test vectors"). A
// header or key value is given as value_utf8 when it is UTF-8, else as
// value_hex.
type vector struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Topic       string         `json:"topic"`
	KeyHex      string         `json:"key_hex"`
	KeyUTF8     *string        `json:"key_utf8,omitempty"`
	Headers     []vectorHeader `json:"headers"`
	ValueHex    string         `json:"value_hex"`

	// Valid vectors: the schema id, the exact payload bytes as a string, and
	// the decoded envelope in its JSON form.
	SchemaID int             `json:"schema_id,omitempty"`
	Payload  *string         `json:"payload,omitempty"`
	Envelope json.RawMessage `json:"envelope,omitempty"`

	// Invalid vectors: the DecodeError.Field every implementation reports.
	ErrorField string `json:"error_field,omitempty"`
}

type vectorHeader struct {
	Key       string  `json:"key"`
	ValueUTF8 *string `json:"value_utf8,omitempty"`
	ValueHex  *string `json:"value_hex,omitempty"`
}

// validCase is one golden record, built by Encode.
type validCase struct {
	name, description, topic string
	schemaID                 int
	env                      event.Envelope
	extra                    []codec.Header
}

func validCases() []validCase {
	traced := leadEnvelope()
	traced.Header.EventID = "0e7b3c5a-9d2f-4a6b-8c1e-5f3a7d9b2c64"
	traced.Header.TraceID = "0af7651916cd43dd8448eb211c80319c"
	traced.Header.Timestamp = time.Date(2025, 10, 24, 14, 0, 0, 123e6, time.UTC)
	traced.Payload = json.RawMessage(`{"lead_id":"a4f8c2d6-1e3b-4a5c-9d7e-2b6f8a0c4e13","tenant_id":"9b2d7e61-4a3f-4c8e-b5d2-7f1e0a6c3d48","name":"Zoë Müller","email":"zoe.mueller@example.com","source":"referral","created_at":"2025-10-24T14:00:00.123Z"}`)

	return []validCase{
		{
			name:        "lead_created",
			description: "The spec §3/§4 lead.created example with real ids, schema id 1, no extra headers.",
			topic:       "lead.created",
			schemaID:    1,
			env:         leadEnvelope(),
		},
		{
			name:        "lead_created_traced_authorized",
			description: "lead.created with a millisecond timestamp, a non-ASCII payload, and the extra headers traceparent (same trace as trace_id) and authorization (an example service token, not a real JWT).",
			topic:       "lead.created",
			schemaID:    100001,
			env:         traced,
			extra: []codec.Header{
				hdr(codec.HeaderTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
				hdr(codec.HeaderAuthorization, "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.eyJpc3MiOiJodHRwczovL2tleWNsb2FrLmV4YW1wbGUvcmVhbG1zL2lub3BzaW8iLCJzdWIiOiJjcm0tc2VydmljZSIsImF6cCI6ImNybS1zZXJ2aWNlIiwiZXhwIjoxNzYxMzE0NzAwfQ.ZXhhbXBsZS1zaWduYXR1cmUtbm90LXZhbGlk"),
			},
		},
		{
			name:        "task_completed_schema_id_bytes",
			description: "task.completed under schema id 0x01020304, so each id byte is distinct (big-endian order shows), with a nanosecond timestamp and a pretty-printed payload that must be carried byte for byte.",
			topic:       "task.completed",
			schemaID:    0x01020304,
			env: event.Envelope{
				Header: event.Header{
					EventID:   "d2c4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f",
					EventName: "task.completed",
					Source:    "workflow-service",
					Timestamp: time.Date(2025, 10, 24, 11, 42, 33, 987654321, time.UTC),
					TenantID:  "2f4e6a8c-0b1d-4e3f-a5b7-c9d1e3f5a7b9",
					TraceID:   "5c9e1a3b7d2f4e6a8b0c1d3e5f7a9b2c",
					Version:   "1.0.0",
					Schema:    "workflow-task-completed-schema-v1",
				},
				Payload: json.RawMessage("{\n  \"workflow_id\": \"WFL-2025-001\",\n  \"tenant_id\": \"2f4e6a8c-0b1d-4e3f-a5b7-c9d1e3f5a7b9\",\n  \"task_id\": \"7a9c1e3f-5b7d-4f1a-8c3e-5d7f9a1b3c5e\",\n  \"user_id\": \"3e9a6c12-5f8b-4d7e-a1c4-6b2f8d0e9a57\",\n  \"status\": \"COMPLETED\",\n  \"completed_at\": \"2025-10-24T11:42:33Z\"\n}\n"),
			},
		},
		{
			name:        "threat_detected_max_schema_id",
			description: "threat.detected under the largest schema id, 2147483647 (0x7fffffff), with traceparent and tracestate and a payload with non-ASCII text.",
			topic:       "threat.detected",
			schemaID:    0x7fffffff,
			env: event.Envelope{
				Header: event.Header{
					EventID:   "b1d3f5a7-9c2e-4b6d-a8f0-1c3e5a7b9d2f",
					EventName: "threat.detected",
					Source:    "inosec-service",
					Timestamp: time.Date(2025, 10, 24, 9, 30, 0, 0, time.UTC),
					TenantID:  "6c8e0a2b-4d6f-4a1c-9e3b-5d7f9b1c3e5a",
					TraceID:   "8f1d3b5a7c9e2f4a6b8d0c2e4a6f8b1d",
					Version:   "1.0.0",
					Schema:    "inosec-threat-detected-schema-v1",
				},
				Payload: json.RawMessage(`{"alert_id":"e5a7c9b1-3d5f-4e7a-9c1b-3d5f7a9c1e3b","tenant_id":"6c8e0a2b-4d6f-4a1c-9e3b-5d7f9b1c3e5a","severity":"HIGH","source_system":"endpoint-agent","description":"Unusual data exfiltration pattern — 4.2 GB to an unknown host (東京)","detected_at":"2025-10-24T09:30:00Z"}`),
			},
			extra: []codec.Header{
				hdr(codec.HeaderTraceparent, "00-8f1d3b5a7c9e2f4a6b8d0c2e4a6f8b1d-a1b2c3d4e5f60718-01"),
				hdr(codec.HeaderTracestate, "inopsio=p:a1b2c3d4e5f60718,congo=t61rcWkgMzE"),
			},
		},
	}
}

// invalidCase breaks the first valid record in exactly one way.
type invalidCase struct {
	name, description, field string
	mutate                   func(*codec.Record)
}

func invalidCases() []invalidCase {
	return []invalidCase{
		{"bad_magic_byte", "The value starts with 0x01, not the Confluent magic byte 0x00.", "value",
			func(r *codec.Record) { r.Value[0] = 0x01 }},
		{"short_value", "The value is 4 bytes, shorter than the 5-byte frame header.", "value",
			func(r *codec.Record) { r.Value = r.Value[:4] }},
		{"schema_id_zero", "The frame carries schema id 0.", "value",
			func(r *codec.Record) { copy(r.Value[1:5], []byte{0, 0, 0, 0}) }},
		{"schema_id_negative", "The frame carries 0x80000001, negative as a signed 32-bit int.", "value",
			func(r *codec.Record) { copy(r.Value[1:5], []byte{0x80, 0, 0, 1}) }},
		{"empty_payload", "The value is the frame header alone.", "value",
			func(r *codec.Record) { r.Value = r.Value[:5] }},
		{"missing_header", "The trace_id header is absent.", "header:trace_id",
			func(r *codec.Record) { dropHeader(r, "trace_id") }},
		{"duplicate_header", "event_id occurs twice, with different values; a reader must not pick one.", "header:event_id",
			func(r *codec.Record) {
				r.Headers = append(r.Headers, hdr("event_id", "0e7b3c5a-9d2f-4a6b-8c1e-5f3a7d9b2c64"))
			}},
		{"duplicate_authorization", "authorization occurs twice.", "header:authorization",
			func(r *codec.Record) {
				r.Headers = append(r.Headers, hdr("authorization", "Bearer a.b.c"), hdr("authorization", "Bearer d.e.f"))
			}},
		{"key_mismatch", "The key is another tenant's id than the tenant_id header.", "key",
			func(r *codec.Record) { r.Key = []byte("0d6c2b8e-1f4a-4e3b-9c7d-5a8e2f1b6c30") }},
		{"timestamp_not_utc", "The timestamp has the offset +00:00 instead of the suffix Z.", "header:timestamp",
			func(r *codec.Record) { setHeader(r, "timestamp", "2025-10-24T14:00:00+00:00") }},
		{"timestamp_comma_fraction", "The timestamp separates the fraction with a comma, which RFC 3339 does not allow.", "header:timestamp",
			func(r *codec.Record) { setHeader(r, "timestamp", "2025-10-24T14:00:00,5Z") }},
		{"event_id_not_v4", "event_id is a version 1 UUID.", "header:event_id",
			func(r *codec.Record) { setHeader(r, "event_id", "6ba7b810-9dad-11d1-80b4-00c04fd430c8") }},
		{"header_not_utf8", "The source header holds the byte 0xff.", "header:source",
			func(r *codec.Record) { setHeader(r, "source", "crm-\xffservice") }},
		{"header_named_key", "A header is named key, which the Redis mapping uses for the record key.", "header:key",
			func(r *codec.Record) { r.Headers = append(r.Headers, hdr("key", "x")) }},
	}
}

func toVector(name, description string, r codec.Record) vector {
	v := vector{
		Name: name, Description: description, Topic: r.Topic,
		KeyHex: hex.EncodeToString(r.Key), KeyUTF8: utf8Ptr(r.Key),
		ValueHex: hex.EncodeToString(r.Value),
		Headers:  []vectorHeader{},
	}
	for _, h := range r.Headers {
		vh := vectorHeader{Key: h.Key, ValueUTF8: utf8Ptr(h.Value)}
		if vh.ValueUTF8 == nil {
			x := hex.EncodeToString(h.Value)
			vh.ValueHex = &x
		}
		v.Headers = append(v.Headers, vh)
	}
	return v
}

func utf8Ptr(b []byte) *string {
	if !utf8.Valid(b) {
		return nil
	}
	s := string(b)
	return &s
}

func (v vector) record(t testing.TB) codec.Record {
	t.Helper()
	r := codec.Record{Topic: v.Topic, Key: mustHex(t, v.KeyHex), Value: mustHex(t, v.ValueHex)}
	if v.KeyUTF8 != nil && *v.KeyUTF8 != string(r.Key) {
		t.Fatalf("%s: key_utf8 and key_hex differ", v.Name)
	}
	for _, h := range v.Headers {
		switch {
		case h.ValueUTF8 != nil && h.ValueHex == nil:
			r.Headers = append(r.Headers, hdr(h.Key, *h.ValueUTF8))
		case h.ValueHex != nil && h.ValueUTF8 == nil:
			r.Headers = append(r.Headers, codec.Header{Key: h.Key, Value: mustHex(t, *h.ValueHex)})
		default:
			t.Fatalf("%s: header %s needs exactly one of value_utf8 and value_hex", v.Name, h.Key)
		}
	}
	return r
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// generate returns every vector file, path → content.
func generate(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	var base codec.Record
	for i, c := range validCases() {
		rec, err := codec.Encode(c.topic, c.env, c.schemaID, c.extra...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if i == 0 {
			base = rec
		}
		v := toVector(c.name, c.description, rec)
		v.SchemaID = c.schemaID
		p := string(c.env.Payload)
		v.Payload = &p
		env, err := json.Marshal(c.env)
		if err != nil {
			t.Fatal(err)
		}
		v.Envelope = env
		files[filepath.Join(validDir, c.name+".json")] = marshalVector(t, v)
	}
	for _, c := range invalidCases() {
		rec := cloneRecord(base)
		c.mutate(&rec)
		v := toVector(c.name, c.description, rec)
		v.ErrorField = c.field
		files[filepath.Join(invalidDir, c.name+".json")] = marshalVector(t, v)
	}
	return files
}

func marshalVector(t *testing.T, v vector) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden checks the files against the generator (or rewrites them with
// -update), then checks the files themselves: they are the contract.
func TestGolden(t *testing.T) {
	files := generate(t)
	if *update {
		for _, dir := range []string{validDir, invalidDir} {
			old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			for _, p := range old {
				if _, ok := files[p]; !ok {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		for p, b := range files {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	on, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for p := range files {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, files[p]) {
			t.Errorf("%s is stale or missing (go test ./codec -run TestGolden -update): %v", p, err)
		}
	}
	for _, p := range on {
		if _, ok := files[p]; !ok {
			t.Errorf("%s is not generated by TestGolden; run with -update", p)
		}
	}

	valid, _ := filepath.Glob(filepath.Join(validDir, "*.json"))
	invalid, _ := filepath.Glob(filepath.Join(invalidDir, "*.json"))
	if len(valid) < 3 || len(invalid) < 7 {
		t.Fatalf("only %d valid and %d invalid vectors", len(valid), len(invalid))
	}
	for _, p := range valid {
		t.Run(filepath.Base(p), func(t *testing.T) { checkValid(t, readVector(t, p)) })
	}
	for _, p := range invalid {
		t.Run(filepath.Base(p), func(t *testing.T) { checkInvalid(t, readVector(t, p)) })
	}
}

func readVector(t testing.TB, path string) vector {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// checkValid: decoding the bytes gives the envelope, and encoding the
// envelope gives the bytes.
func checkValid(t *testing.T, v vector) {
	rec := v.record(t)
	if v.Payload == nil || v.SchemaID == 0 || v.Envelope == nil {
		t.Fatal("a valid vector needs schema_id, payload and envelope")
	}
	var want event.Envelope
	if err := json.Unmarshal(v.Envelope, &want); err != nil {
		t.Fatal(err)
	}
	want.Payload = []byte(*v.Payload) // exact bytes; envelope.payload is reformatted
	extra := rec.Headers[len(event.HeaderFields):]

	d, err := codec.Decode(rec)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d.SchemaID != v.SchemaID || !bytes.Equal(d.Envelope.Payload, want.Payload) || !sameHeaders(d.Extra, extra) {
		t.Errorf("decoded schema id %d payload %q extra %v", d.SchemaID, d.Envelope.Payload, d.Extra)
	}
	if !d.Envelope.Header.Timestamp.Equal(want.Header.Timestamp) {
		t.Errorf("timestamp %v, want %v", d.Envelope.Header.Timestamp, want.Header.Timestamp)
	}
	gotJSON, _ := json.Marshal(d.Envelope)
	var compact bytes.Buffer
	if err := json.Compact(&compact, v.Envelope); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotJSON, compact.Bytes()) {
		t.Errorf("decoded envelope\n got %s\nwant %s", gotJSON, compact.Bytes())
	}

	enc, err := codec.Encode(v.Topic, want, v.SchemaID, extra...)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if enc.Topic != rec.Topic || !bytes.Equal(enc.Key, rec.Key) || !bytes.Equal(enc.Value, rec.Value) ||
		!slices.EqualFunc(enc.Headers, rec.Headers, func(a, b codec.Header) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) {
		t.Errorf("Encode does not reproduce the vector's bytes:\n got %+v\nwant %+v", enc, rec)
	}
}

func checkInvalid(t *testing.T, v vector) {
	if v.ErrorField == "" {
		t.Fatal("an invalid vector needs error_field")
	}
	_, err := codec.Decode(v.record(t))
	var de *codec.DecodeError
	if !errors.As(err, &de) || de.Field != v.ErrorField || !errors.Is(err, event.ErrInvalid) {
		t.Fatalf("Decode error %v, want a DecodeError on %q", err, v.ErrorField)
	}
}
