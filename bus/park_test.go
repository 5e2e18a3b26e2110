package bus

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// parked builds a delivery from "lead.created.retry-2" with the headers a
// park writes, then applies edit.
func parked(edit func(map[string]string)) *Delivery {
	h := map[string]string{
		codec.HeaderOriginalTopic: "lead.created", codec.HeaderOriginalPartition: "1",
		codec.HeaderOriginalOffset: "42", codec.HeaderOriginalTimestamp: "2026-11-27T06:00:00.000Z",
		codec.HeaderConsumerGroup: "analytics", codec.HeaderAttempt: "2",
		codec.HeaderDueAt: "2026-11-27T06:00:02.500Z", codec.HeaderFirstFailure: "2026-11-27T06:00:00.100Z",
	}
	if edit != nil {
		edit(h)
	}
	rec := codec.Record{Topic: "lead.created.retry-2", Key: []byte("t"), Value: []byte("v"),
		Headers: []codec.Header{{Key: "traceparent", Value: []byte("00-…")}}}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		rec.Headers = append(rec.Headers, codec.Header{Key: k, Value: []byte(h[k])})
	}
	return &Delivery{Record: rec, Partition: 0, Offset: 7, ID: "lead.created.retry-2/0/7", Attempt: 1}
}

func TestParkedOrigin(t *testing.T) {
	route := retryRoute{origin: "lead.created", level: 2}
	tests := []struct {
		name    string
		edit    func(map[string]string)
		wantErr string
	}{
		{"as parked", nil, ""},
		{"other original topic", func(h map[string]string) { h[codec.HeaderOriginalTopic] = "invoice.generated" }, "names original topic"},
		{"missing original topic", func(h map[string]string) { delete(h, codec.HeaderOriginalTopic) }, "names original topic"},
		{"attempt of another level", func(h map[string]string) { h[codec.HeaderAttempt] = "3" }, "want 2"},
		{"attempt not a number", func(h map[string]string) { h[codec.HeaderAttempt] = "two" }, "want 2"},
		{"missing due time", func(h map[string]string) { delete(h, codec.HeaderDueAt) }, codec.HeaderDueAt},
		{"bad due time", func(h map[string]string) { h[codec.HeaderDueAt] = "tomorrow" }, codec.HeaderDueAt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parkedOrigin(parked(tc.edit), route)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := time.Date(2026, 11, 27, 6, 0, 2, 500e6, time.UTC)
			if o.failed != 2 || !o.due.Equal(want) || o.partition != "1" || o.offset != "42" || !o.parked || o.group != "analytics" {
				t.Errorf("origin = %+v", o)
			}
		})
	}
}

// A record moving on from a retry topic replaces the failure headers, never
// repeats them (the codec refuses repeated spine-* headers), and keeps the
// producer's headers and the first failure.
func TestFailureRecordReplacesRetryHeaders(t *testing.T) {
	d := parked(nil)
	o, err := parkedOrigin(d, retryRoute{origin: "lead.created", level: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 6, 0, 3, 0, time.UTC)
	rec := failureRecord(d, RetryTopic("lead.created", 3), o, "analytics", KindHandler, "boom", 3, now)
	seen := map[string]int{}
	for _, h := range rec.Headers {
		seen[h.Key]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("header %s appears %d times", k, n)
		}
	}
	get := func(k string) string { v, _ := rec.Header(k); return string(v) }
	if rec.Topic != "lead.created.retry-3" || get("traceparent") != "00-…" || get(codec.HeaderAttempt) != "3" ||
		get(codec.HeaderFirstFailure) != "2026-11-27T06:00:00.100Z" || get(codec.HeaderLastFailure) != event.FormatTimestamp(now) ||
		get(codec.HeaderOriginalOffset) != "42" || get(codec.HeaderDueAt) != "" {
		t.Errorf("record = %+v", rec)
	}
}

func FuzzParkedOrigin(f *testing.F) {
	f.Add("lead.created", "2", "2026-11-27T06:00:02.500Z", "1", "42")
	f.Add("", "", "", "", "")
	f.Add("lead.created", "-1", "9999-99-99T99:99:99Z", "x", "\xff")
	f.Fuzz(func(t *testing.T, topic, attempt, due, partition, offset string) {
		d := parked(func(h map[string]string) {
			h[codec.HeaderOriginalTopic], h[codec.HeaderAttempt], h[codec.HeaderDueAt] = topic, attempt, due
			h[codec.HeaderOriginalPartition], h[codec.HeaderOriginalOffset] = partition, offset
		})
		o, err := parkedOrigin(d, retryRoute{origin: "lead.created", level: 2})
		if err == nil && (o.topic != "lead.created" || o.failed != 2 || o.due.IsZero()) {
			t.Fatalf("accepted %+v", o)
		}
	})
}
