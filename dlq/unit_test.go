package dlq

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

func TestParseID(t *testing.T) {
	cases := []struct {
		in   string
		want string // "dlq", "original", "event" or "" for an error
	}{
		{"lead.created.dlq/0/5", "dlq"},
		{"lead.created/2/42", "original"},
		{"5f0c8a1e-3b7d-4c52-9e8a-2d6f1b4c7a90", "event"},
		{"5F0C8A1E-3B7D-4C52-9E8A-2D6F1B4C7A90", "event"},
		{".dlq/0/1", "original"}, // a topic named ".dlq" is not a DLQ of anything
		{"lead.created/0", ""},
		{"lead.created/-1/3", ""},
		{"lead.created/0/x", ""},
		{"/0/1", ""},
		{"not-an-id", ""},
		{"", ""},
	}
	for _, tc := range cases {
		id, err := ParseID(tc.in)
		got := ""
		switch {
		case err != nil:
		case id.DLQ != nil:
			got = "dlq"
		case id.Original != nil:
			got = "original"
		case id.EventID != "":
			got = "event"
		}
		if got != tc.want {
			t.Errorf("ParseID(%q) = %+v, %v; want %s", tc.in, id, err, tc.want)
		}
		if err == nil && tc.want != "event" && id.String() != tc.in {
			t.Errorf("ParseID(%q).String() = %q", tc.in, id.String())
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-10-20T10:00:00Z", time.Date(2025, 10, 20, 10, 0, 0, 0, time.UTC), true},
		{"2025-10-20T12:00:00+02:00", time.Date(2025, 10, 20, 10, 0, 0, 0, time.UTC), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"7d", now.Add(-7 * 24 * time.Hour), true},
		{"-3h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tc := range cases {
		got, err := ParseSince(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseSince(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func validLetter(t *testing.T) *Letter {
	t.Helper()
	h, err := event.NewHeader(event.Header{EventName: "lead.created", Source: "crm-service",
		TenantID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Version: "1.0.0", Schema: "crm-lead-schema-v1"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := codec.Encode("lead.created", event.Envelope{Header: h, Payload: []byte(`{}`)}, 1,
		codec.Header{Key: "traceparent", Value: []byte("00-" + h.TraceID + "-0102030405060708-01")},
		codec.Header{Key: codec.HeaderEncryption, Value: []byte("reserved")},
		codec.Header{Key: codec.HeaderReplayCount, Value: []byte("2")})
	if err != nil {
		t.Fatal(err)
	}
	rec.Topic = bus.DLQTopic(rec.Topic)
	for _, kv := range [][2]string{
		{codec.HeaderOriginalTopic, "lead.created"}, {codec.HeaderOriginalPartition, "1"}, {codec.HeaderOriginalOffset, "42"},
		{codec.HeaderConsumerGroup, "g"}, {codec.HeaderErrorKind, "handler"}, {codec.HeaderErrorMessage, "boom"},
		{codec.HeaderAttempt, "3"}, {codec.HeaderFirstFailure, "2025-10-24T14:00:00Z"}, {codec.HeaderLastFailure, "2025-10-24T14:00:01Z"},
	} {
		rec.Headers = append(rec.Headers, codec.Header{Key: kv[0], Value: []byte(kv[1])})
	}
	return parseLetter(&bus.Delivery{Record: rec, Partition: 0, Offset: 7, Timestamp: time.Now()}, true)
}

func TestReplayRecord(t *testing.T) {
	l := validLetter(t)
	if l.ReplayCount != 2 || *l.Attempts != 3 || *l.OriginalOffset != 42 || l.ID != "lead.created.dlq/0/7" {
		t.Fatalf("parsed %+v", l)
	}
	rec, why := replayRecord(l)
	if why != "" {
		t.Fatal(why)
	}
	if rec.Topic != "lead.created" || string(rec.Key) != l.TenantID || &rec.Value[0] != &l.Record.Value[0] {
		t.Errorf("replay record %s key %s", rec.Topic, rec.Key)
	}
	var names []string
	for _, h := range rec.Headers {
		names = append(names, h.Key)
	}
	want := append(event.HeaderFields[:], "traceparent", codec.HeaderEncryption, codec.HeaderReplayCount)
	if !slices.Equal(names, want) {
		t.Errorf("headers %v, want %v", names, want)
	}
	if v, _ := rec.Header(codec.HeaderReplayCount); string(v) != "3" {
		t.Errorf("spine-replay-count %q, want 3", v)
	}

	// A header must not choose where an event is injected.
	forged := validLetter(t)
	forged.OriginalTopic = "tenant.created"
	if _, why := replayRecord(forged); !strings.Contains(why, "tenant.created") {
		t.Errorf("forged original topic: %q", why)
	}
	junk := &Letter{Position: Position{Topic: "lead.created.dlq"}, Record: codec.Record{Value: []byte("x")}}
	if _, why := replayRecord(junk); !strings.Contains(why, "not a Spine event") {
		t.Errorf("garbage: %q", why)
	}
}

func TestLenientParse(t *testing.T) {
	rec := codec.Record{Topic: "lead.created.dlq", Headers: []codec.Header{
		{Key: event.FieldEventID, Value: []byte("a")}, {Key: event.FieldEventID, Value: []byte("b")}, // repeated: unreadable
		{Key: codec.HeaderAttempt, Value: []byte("-1")},
		{Key: codec.HeaderFirstFailure, Value: []byte("yesterday")},
		{Key: codec.HeaderErrorMessage, Value: []byte("codec: cannot decode")},
	}}
	l := parseLetter(&bus.Delivery{Record: rec, Offset: 3}, false)
	if l.EventID != "" || l.Attempts != nil || l.FirstFailure != nil || l.Error != "codec: cannot decode" || l.Status != StatusOpen {
		t.Errorf("%+v", l)
	}
}

func TestParseResolution(t *testing.T) {
	if r := parseResolution([]byte(`{"action":"replayed","actor":"a"}`)); r.Action != StatusReplayed {
		t.Errorf("%+v", r)
	}
	// Unreadable still resolves: never replay twice on a doubt.
	for _, v := range []string{`{`, `{"action":"eaten"}`, ``} {
		if r := parseResolution([]byte(v)); r.Action != "unknown" {
			t.Errorf("%q: %+v", v, r)
		}
	}
}

type sleepClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *sleepClock) Now() time.Time { return c.now }
func (c *sleepClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func TestLimiter(t *testing.T) {
	cases := []struct {
		rate      float64
		events    int
		batch     int
		wantTotal time.Duration // time the limiter waited in all
	}{
		{5, 10, 1, 1800 * time.Millisecond},    // 9 waits of 200ms
		{100, 100, 10, 900 * time.Millisecond}, // 10 batches of 10, 100ms apart
		{0.5, 3, 1, 4 * time.Second},
		{1e6, 5000, maxBatch, 4500 * time.Microsecond},
	}
	for _, tc := range cases {
		if b := batchFor(tc.rate); b != tc.batch {
			t.Errorf("rate %v: batch %d, want %d", tc.rate, b, tc.batch)
		}
		c := &sleepClock{now: time.Unix(0, 0)}
		l := &limiter{rate: tc.rate, clock: c}
		for i := 0; i < tc.events; i += tc.batch {
			if err := l.wait(context.Background(), min(tc.batch, tc.events-i)); err != nil {
				t.Fatal(err)
			}
		}
		var total time.Duration
		for _, d := range c.sleeps {
			total += d
		}
		// Never faster than the rate: events-batch events took total.
		if total != tc.wantTotal {
			t.Errorf("rate %v: waited %v in %d sleeps, want %v", tc.rate, total, len(c.sleeps), tc.wantTotal)
		}
	}
	if batchFor(0) != maxBatch {
		t.Error("unlimited batch")
	}
}
