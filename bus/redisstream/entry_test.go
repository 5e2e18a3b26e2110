package redisstream

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// asReply turns EntryFields' arguments into the strings Redis gives back.
func asReply(t *testing.T, args []any) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = v
		case []byte:
			out[i] = string(v)
		default:
			t.Fatalf("field %d is %T, want string or []byte", i, a)
		}
	}
	return out
}

func hdr(k, v string) codec.Header { return codec.Header{Key: k, Value: []byte(v)} }

func encoded(t *testing.T) codec.Record {
	t.Helper()
	h, err := event.NewHeader(event.Header{
		EventName: "lead.created", Source: "crm-service", TenantID: "9b2d7e61-4a3f-4c8e-b5d2-7f1e0a6c3d48",
		Version: "1.0.0", Schema: "crm-lead-schema-v1", Timestamp: time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := codec.Encode("lead.created", event.Envelope{Header: h, Payload: []byte(`{"a":1}`)}, 7,
		hdr("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), hdr("authorization", "Bearer x"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestEntryFieldsLayout(t *testing.T) {
	rec := codec.Record{Topic: "t.x", Key: []byte("k"), Value: []byte("v"), Headers: []codec.Header{hdr("a", "1"), hdr("b", "2")}}
	got := asReply(t, EntryFields(rec))
	want := []string{"key", "k", "value", "v", "a", "1", "b", "2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EntryFields = %q, want %q", got, want)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  codec.Record
	}{
		{"encoded event", encoded(t)},
		{"no headers", codec.Record{Topic: "t.x", Key: []byte("k"), Value: []byte{0, 0, 0, 0, 1, '{', '}'}}},
		{"empty key and value", codec.Record{Topic: "t.x", Key: []byte{}, Value: []byte{}, Headers: []codec.Header{hdr("h", "")}}},
		{"binary value", codec.Record{Topic: "t.x", Key: []byte("k"), Value: []byte{0, 0xff, 0xfe, '\r', '\n', 0}}},
		// The mapping is positional: repeated names and names the codec
		// refuses survive, in order, for codec.Decode to judge.
		{"repeated and reserved header names", codec.Record{Topic: "t.x", Key: []byte("k"), Value: []byte("v"),
			Headers: []codec.Header{hdr("event_id", "1"), hdr("key", "k2"), hdr("event_id", "2"), hdr("value", "v2")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RecordFromEntry(tt.rec.Topic, asReply(t, EntryFields(tt.rec)))
			if err != nil {
				t.Fatalf("RecordFromEntry: %v", err)
			}
			if !sameRecord(got, tt.rec) {
				t.Errorf("round trip changed the record:\n got %+v\nwant %+v", got, tt.rec)
			}
		})
	}
}

func TestEntryRoundTripDecodes(t *testing.T) {
	rec := encoded(t)
	got, err := RecordFromEntry(rec.Topic, asReply(t, EntryFields(rec)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := codec.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.Decode(got)
	if err != nil {
		t.Fatalf("the read-back record does not decode: %v", err)
	}
	if !reflect.DeepEqual(dec, want) {
		t.Errorf("decoded differently:\n got %+v\nwant %+v", dec, want)
	}
}

// sameRecord compares records, treating nil and empty byte slices alike (Redis
// has no nil string).
func sameRecord(a, b codec.Record) bool {
	if a.Topic != b.Topic || string(a.Key) != string(b.Key) || string(a.Value) != string(b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || string(a.Headers[i].Value) != string(b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func TestRecordFromEntryRejects(t *testing.T) {
	tests := []struct {
		name    string
		fields  []string
		reason  string
		headers []codec.Header // what the salvaged record carries
	}{
		{"no fields", nil, "no fields", nil},
		{"odd count", []string{"key", "k", "value", "v", "traceparent"}, "odd count",
			[]codec.Header{hdr("key", "k"), hdr("value", "v"), hdr("traceparent", "")}},
		{"single field", []string{"key"}, "odd count", []codec.Header{hdr("key", "")}},
		{"missing value field", []string{"key", "k"}, `no "value" field`, []codec.Header{hdr("key", "k")}},
		{"value first", []string{"value", "v", "key", "k"}, `first field is "value"`,
			[]codec.Header{hdr("value", "v"), hdr("key", "k")}},
		{"headers only", []string{"event_id", "x", "event_name", "y"}, `first field is "event_id"`,
			[]codec.Header{hdr("event_id", "x"), hdr("event_name", "y")}},
		{"header where the value belongs", []string{"key", "k", "event_id", "x", "value", "v"}, `second field is "event_id"`,
			[]codec.Header{hdr("key", "k"), hdr("event_id", "x"), hdr("value", "v")}},
		{"hostile long name", []string{strings.Repeat("x", 5000), "v"}, "…", []codec.Header{hdr(strings.Repeat("x", 5000), "v")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := RecordFromEntry("t.x", tt.fields)
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *EntryError", err)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Error("errors.Is(err, event.ErrInvalid) = false")
			}
			if ee.Topic != "t.x" || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %q (topic %q), want topic t.x and reason containing %q", err, ee.Topic, tt.reason)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes: hostile input must be clipped", len(err.Error()))
			}
			want := codec.Record{Topic: "t.x", Headers: tt.headers}
			if !sameRecord(rec, want) {
				t.Errorf("salvaged record = %+v, want %+v", rec, want)
			}
			// What the consumer hands on must never decode: it is poison and
			// goes to the dead-letter topic.
			if _, err := codec.Decode(rec); err == nil {
				t.Error("the salvaged record decodes; it must not")
			}
		})
	}
}

func TestRecordFromEntryCopies(t *testing.T) {
	fields := []string{"key", "k", "value", "vv", "h", "x"}
	rec, err := RecordFromEntry("t", fields)
	if err != nil {
		t.Fatal(err)
	}
	// Parts are capped: appending to one cannot overwrite the next.
	_ = append(rec.Key, 'Z')
	_ = append(rec.Value, 'Z')
	if string(rec.Value) != "vv" || string(rec.Headers[0].Value) != "x" {
		t.Errorf("parts overlap: %+v", rec)
	}
}

func FuzzRecordFromEntry(f *testing.F) {
	f.Add("key\x00k\x00value\x00v\x00h\x001")
	f.Add("key\x00k")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		var fields []string
		if s != "" {
			fields = strings.Split(s, "\x00")
		}
		rec, err := RecordFromEntry("t", fields)
		if err != nil {
			if len(rec.Key) != 0 || len(rec.Value) != 0 {
				t.Fatalf("malformed entry gave key/value: %+v", rec)
			}
			n := 0
			for _, h := range rec.Headers {
				n += len(h.Key) + len(h.Value)
			}
			total := 0
			for _, x := range fields {
				total += len(x)
			}
			if n != total {
				t.Fatalf("salvage lost bytes: %d of %d", n, total)
			}
			return
		}
		back := asReply(t, EntryFields(rec))
		if !slices.Equal(back, fields) {
			t.Fatalf("round trip %q -> %q", fields, back)
		}
	})
}

// The Redis layout of every codec test vector is the one docs/wire-format.md
// shows: key, value, then the headers in order, bytes unchanged; and it reads
// back into a record that decodes.
func TestEntryFieldsVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "codec", "testdata", "vectors", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var v struct {
				Topic   string `json:"topic"`
				KeyHex  string `json:"key_hex"`
				Headers []struct {
					Key       string  `json:"key"`
					ValueUTF8 *string `json:"value_utf8"`
					ValueHex  *string `json:"value_hex"`
				} `json:"headers"`
				ValueHex string `json:"value_hex"`
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			unhex := func(s string) []byte {
				x, err := hex.DecodeString(s)
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
			rec := codec.Record{Topic: v.Topic, Key: unhex(v.KeyHex), Value: unhex(v.ValueHex)}
			want := []string{"key", string(rec.Key), "value", string(rec.Value)}
			for _, h := range v.Headers {
				val := []byte(nil)
				if h.ValueUTF8 != nil {
					val = []byte(*h.ValueUTF8)
				} else if h.ValueHex != nil {
					val = unhex(*h.ValueHex)
				}
				rec.Headers = append(rec.Headers, codec.Header{Key: h.Key, Value: val})
				want = append(want, h.Key, string(val))
			}
			got := asReply(t, EntryFields(rec))
			if !slices.Equal(got, want) {
				t.Fatalf("fields %q\nwant   %q", got, want)
			}
			back, err := RecordFromEntry(v.Topic, got)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := codec.Decode(back); err != nil {
				t.Errorf("read back, the vector does not decode: %v", err)
			}
		})
	}
}
