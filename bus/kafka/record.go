package kafka

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// namespace maps logical (catalog) names to wire names and back.
type namespace string

func (ns namespace) wire(name string) string { return string(ns) + name }

func (ns namespace) logical(wire string) string {
	s, _ := strings.CutPrefix(wire, string(ns))
	return s
}

func (ns namespace) wireAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ns.wire(n)
	}
	return out
}

// toKgo maps recs onto franz-go records: the topic gets the namespace, key,
// value and headers are kept as they are, headers in order. The records
// share two allocations (records and headers); byte slices are not copied.
func toKgo(ns namespace, recs []codec.Record) []*kgo.Record {
	nh := 0
	for i := range recs {
		nh += len(recs[i].Headers)
	}
	out := make([]*kgo.Record, len(recs))
	backing := make([]kgo.Record, len(recs))
	hs := make([]kgo.RecordHeader, 0, nh)
	var lastLogical, lastWire string
	for i := range recs {
		r := &recs[i]
		// Batches are mostly one topic: reuse the prefixed name.
		if r.Topic != lastLogical || lastWire == "" {
			lastLogical, lastWire = r.Topic, ns.wire(r.Topic)
		}
		start := len(hs)
		for _, h := range r.Headers {
			hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		k := &backing[i]
		k.Topic, k.Key, k.Value = lastWire, r.Key, r.Value
		if len(r.Headers) > 0 {
			k.Headers = hs[start:len(hs):len(hs)]
		}
		out[i] = k
	}
	return out
}

// fromKgo maps a fetched record back to a codec.Record with its logical
// topic. The bytes are franz-go's, which hands each fetched record its own.
func fromKgo(ns namespace, r *kgo.Record) codec.Record {
	var hs []codec.Header
	if len(r.Headers) > 0 {
		hs = make([]codec.Header, len(r.Headers))
		for i, h := range r.Headers {
			hs[i] = codec.Header{Key: h.Key, Value: h.Value}
		}
	}
	return codec.Record{Topic: ns.logical(r.Topic), Key: r.Key, Value: r.Value, Headers: hs}
}

// delivery builds what a handler receives for r on its attempt-th delivery.
func delivery(ns namespace, r *kgo.Record, attempt int) *bus.Delivery {
	rec := fromKgo(ns, r)
	return &bus.Delivery{
		Record:    rec,
		Partition: r.Partition,
		Offset:    r.Offset,
		ID:        position(rec.Topic, r.Partition, r.Offset),
		Attempt:   attempt,
		Timestamp: r.Timestamp,
	}
}

// position is the human form of a record's place: "topic/partition/offset".
func position(topic string, partition int32, offset int64) string {
	b := make([]byte, 0, len(topic)+24)
	b = append(b, topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, offset, 10)
	return string(b)
}
