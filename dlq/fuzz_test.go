package dlq

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// Operators type IDs; a position must parse back to itself or be refused
// with an error, never panic.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"lead.created.dlq/2/5", "lead.created/0/42", "0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f",
		"/1/2", "a//2", "a/1/", "a/-1/2", "a/1/99999999999999999999", "", "////"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParsePosition(s); err == nil {
			if p.String() != s && strings.Count(s, "/") >= 2 {
				again, err := ParsePosition(p.String())
				if err != nil || again != p {
					t.Fatalf("ParsePosition(%q) = %+v does not round-trip: %+v, %v", s, p, again, err)
				}
			}
			if p.Partition < 0 || p.Offset < 0 {
				t.Fatalf("ParsePosition(%q) = %+v with a negative number", s, p)
			}
		}
		_, _ = ParseID(s)
	})
}

// Dead letters are arbitrary records — the DLQ holds exactly the ones that
// failed to decode — so reading one must never panic, whatever its headers.
func FuzzParseLetter(f *testing.F) {
	f.Add("lead.created.dlq", "event_id", "x", codec.HeaderAttempt, "3", codec.HeaderFirstFailure, "2025-10-24T14:00:00Z", []byte{0, 1, 2, 3})
	f.Add("x.dlq", codec.HeaderOriginalPartition, "99999999999", codec.HeaderOriginalOffset, "-1", codec.HeaderLastFailure, "yesterday", []byte("{"))
	f.Fuzz(func(t *testing.T, topic, k1, v1, k2, v2, k3, v3 string, value []byte) {
		d := &bus.Delivery{Record: codec.Record{Topic: topic, Value: value, Headers: []codec.Header{
			{Key: k1, Value: []byte(v1)}, {Key: k2, Value: []byte(v2)}, {Key: k3, Value: []byte(v3)},
		}}, Offset: 7}
		l := parseLetter(d, true)
		if l.Attempts != nil && *l.Attempts < 0 || l.OriginalPartition != nil && *l.OriginalPartition < 0 {
			t.Fatalf("negative count from %q/%q/%q", v1, v2, v3)
		}
		if !utf8.ValidString(l.ID) && utf8.ValidString(topic) {
			t.Fatalf("ID %q is not UTF-8", l.ID)
		}
		_, _ = l.OriginalPosition()
	})
}
