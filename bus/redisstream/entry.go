package redisstream

import (
	"strconv"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// Names of the two stream fields that carry the record's key and value. They
// come first in every entry; codec refuses headers of these names so that a
// client reading an entry as a map sees every field.
const (
	FieldKey   = "key"
	FieldValue = "value"
)

// EntryFields lays rec out as the fields of one stream entry, as
// docs/wire-format.md specifies: "key" and the record key, "value" and the
// record value, then each header's name and value in record order. The topic
// is not stored: it is the stream (Namespace + topic).
//
// The mapping is total: every record has an entry, even one whose headers
// break the codec's rules. That is deliberate: a dead letter carries a
// hostile record's headers untouched, and refusing to write it would leave
// the original stuck in the consumer's pending list forever. The values
// alias rec's bytes.
func EntryFields(rec codec.Record) []any {
	f := make([]any, 0, 4+2*len(rec.Headers))
	f = append(f, FieldKey, rec.Key, FieldValue, rec.Value)
	for _, h := range rec.Headers {
		f = append(f, h.Key, h.Value)
	}
	return f
}

// EntryError says why a stream entry does not follow the Redis mapping of
// docs/wire-format.md. Like codec.DecodeError it matches event.ErrInvalid:
// the entry is poison and reading it again cannot help.
type EntryError struct {
	Topic  string // the logical topic of the stream
	Reason string
}

func (e *EntryError) Error() string {
	return "redisstream: entry of topic " + strconv.Quote(e.Topic) + " is not a Spine record: " + e.Reason
}

func (e *EntryError) Unwrap() error { return event.ErrInvalid }

// RecordFromEntry reads the fields of one stream entry (name, value, name,
// value, … as Redis returns them) into a record of topic. The key and value
// fields must come first, in that order; every later pair is a header, in
// entry order, whatever its name (codec.Decode judges the names).
//
// A malformed entry — no fields, an odd number of them, no key or value
// field, or those fields out of place — fails with an *EntryError, and the
// record returned next to the error still carries everything the entry held:
// every field pair as a header (a trailing name without a value gets an
// empty one), with an empty key and value. A consumer hands that record on
// rather than dropping it; its empty value can never decode, so bus.Client
// writes it, with all its fields, to the dead-letter topic.
//
// The record's bytes are copied into one buffer; header names share the
// strings of fields.
func RecordFromEntry(topic string, fields []string) (codec.Record, error) {
	n := 0
	for i := 1; i < len(fields); i += 2 {
		n += len(fields[i])
	}
	buf := make([]byte, 0, n)
	take := func(s string) []byte {
		i := len(buf)
		buf = append(buf, s...)
		return buf[i:len(buf):len(buf)]
	}

	if reason := entryShape(fields); reason != "" {
		rec := codec.Record{Topic: topic, Headers: make([]codec.Header, 0, (len(fields)+1)/2)}
		for i := 0; i < len(fields); i += 2 {
			h := codec.Header{Key: fields[i]}
			if i+1 < len(fields) {
				h.Value = take(fields[i+1])
			}
			rec.Headers = append(rec.Headers, h)
		}
		return rec, &EntryError{Topic: topic, Reason: reason}
	}

	rec := codec.Record{Topic: topic, Key: take(fields[1]), Value: take(fields[3])}
	if len(fields) > 4 {
		rec.Headers = make([]codec.Header, 0, (len(fields)-4)/2)
		for i := 4; i < len(fields); i += 2 {
			rec.Headers = append(rec.Headers, codec.Header{Key: fields[i], Value: take(fields[i+1])})
		}
	}
	return rec, nil
}

// entryShape returns why fields break the mapping, or "".
func entryShape(fields []string) string {
	switch {
	case len(fields) == 0:
		return "it has no fields"
	case len(fields)%2 != 0:
		return "it has " + strconv.Itoa(len(fields)) + " field names and values, an odd count: the last name has no value"
	case fields[0] != FieldKey:
		return "its first field is " + quoteClip(fields[0]) + ", want \"key\""
	case len(fields) < 4:
		return "it has no \"value\" field"
	case fields[2] != FieldValue:
		return "its second field is " + quoteClip(fields[2]) + ", want \"value\""
	}
	return ""
}

// quoteClip quotes attacker-controlled text for an error, bounded so that it
// cannot flood logs.
func quoteClip(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
