package kafka

import (
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/codec"
)

func hdrs(kv ...string) []codec.Header {
	var hs []codec.Header
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, codec.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func TestRecordMapping(t *testing.T) {
	tests := []struct {
		name string
		ns   namespace
		recs []codec.Record
		wire []string
	}{
		{
			name: "no namespace",
			recs: []codec.Record{{Topic: "lead.created", Key: []byte("t1"), Value: []byte("v"), Headers: hdrs("event_id", "1", "b", "2")}},
			wire: []string{"lead.created"},
		},
		{
			name: "namespace, two topics, headers kept in order with repeats",
			ns:   "staging.",
			recs: []codec.Record{
				{Topic: "lead.created", Key: []byte("t1"), Value: []byte("v1"), Headers: hdrs("z", "1", "a", "2", "z", "3")},
				{Topic: "lead.created", Key: []byte("t2"), Value: []byte("v2")},
				{Topic: "lead.created.dlq", Key: nil, Value: []byte("v3"), Headers: hdrs("k", "")},
			},
			wire: []string{"staging.lead.created", "staging.lead.created", "staging.lead.created.dlq"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := toKgo(tc.ns, tc.recs)
			if len(ks) != len(tc.recs) {
				t.Fatalf("got %d records", len(ks))
			}
			for i, k := range ks {
				if k.Topic != tc.wire[i] {
					t.Errorf("record %d: wire topic %q, want %q", i, k.Topic, tc.wire[i])
				}
				back := fromKgo(tc.ns, k)
				if !reflect.DeepEqual(back, tc.recs[i]) {
					t.Errorf("record %d: round trip\n got %+v\nwant %+v", i, back, tc.recs[i])
				}
			}
		})
	}
}

// The records of one Send share a header array: appending to one record's
// headers must not overwrite the next record's.
func TestToKgoHeadersAreCapped(t *testing.T) {
	ks := toKgo("", []codec.Record{
		{Topic: "a", Headers: hdrs("x", "1")},
		{Topic: "a", Headers: hdrs("y", "2")},
	})
	ks[0].Headers = append(ks[0].Headers, kgo.RecordHeader{Key: "evil"})
	if ks[1].Headers[0].Key != "y" {
		t.Fatalf("second record's header clobbered: %+v", ks[1].Headers)
	}
}

func TestDelivery(t *testing.T) {
	ts := time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC)
	r := &kgo.Record{Topic: "t-1.lead.created", Partition: 2, Offset: 42, Timestamp: ts, Key: []byte("k"),
		Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}}}
	d := delivery("t-1.", r, 3)
	if d.Record.Topic != "lead.created" || d.ID != "lead.created/2/42" || d.Partition != 2 ||
		d.Offset != 42 || d.Attempt != 3 || !d.Timestamp.Equal(ts) || string(d.Record.Key) != "k" ||
		len(d.Record.Headers) != 1 || d.Record.Headers[0].Key != "h" {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestPoolKey(t *testing.T) {
	// Topic and partition are delimited, so "ab"/"c" and "a"/"bc" differ.
	a := poolKey(nil, tp{"ab", 1}, []byte("c"))
	b := poolKey(nil, tp{"a", 1}, []byte("bc"))
	if string(a) == string(b) {
		t.Fatal("pool keys collide")
	}
}
