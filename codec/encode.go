package codec

import (
	"strconv"
	"unicode/utf8"

	"github.com/inopsio/spine/event"
)

// maxTimestampLen is the length of the longest timestamp,
// 2006-01-02T15:04:05.999999999Z.
const maxTimestampLen = 30

// Encode lays env out as a record of topic: key tenant_id, the eight envelope
// headers in spec order followed by extra, and the payload framed under
// schemaID. The payload bytes are copied as given, never re-encoded.
//
// It refuses (with an *EncodeError) what Decode would refuse, so that a
// record Encode returns always decodes: a header that fails Validate or whose
// year has no RFC 3339 form, a schema id outside 1..MaxSchemaID, an empty
// payload or topic, and an extra header that is named like an envelope
// header, "key" or "value", is named twice, or is not UTF-8.
//
// The record's bytes live in one buffer; extra header values are not copied.
func Encode(topic string, env event.Envelope, schemaID int, extra ...Header) (Record, error) {
	if topic == "" {
		return Record{}, encodeError(topic, "topic", "is empty")
	}
	if schemaID < 1 || schemaID > MaxSchemaID {
		return Record{}, encodeError(topic, "schema_id", "is "+strconv.Itoa(schemaID)+", outside 1..2147483647")
	}
	if len(env.Payload) == 0 {
		return Record{}, encodeError(topic, "payload", "is empty")
	}
	h := &env.Header
	if err := h.Validate(); err != nil {
		field, reason := fromValidation(err)
		return Record{}, &EncodeError{Topic: topic, Field: field, Reason: reason, Err: err}
	}
	ts := h.Timestamp.UTC()
	if y := ts.Year(); y < 0 || y > 9999 {
		return Record{}, encodeError(topic, "header:timestamp", "year "+strconv.Itoa(y)+" has no RFC 3339 form")
	}
	if err := checkExtra(topic, extra); err != nil {
		return Record{}, err
	}

	// One buffer holds the key, the header values and the value; the
	// timestamp is formatted straight into it.
	n := 2*len(h.TenantID) + len(h.EventID) + len(h.EventName) + len(h.Source) +
		maxTimestampLen + len(h.TraceID) + len(h.Version) + len(h.Schema) +
		FrameHeader + len(env.Payload)
	buf := make([]byte, 0, n)
	// part returns what was appended since start as its own capped slice, so
	// that a caller appending to one part cannot overwrite the next.
	part := func(start int) []byte { return buf[start:len(buf):len(buf)] }
	put := func(s string) []byte {
		i := len(buf)
		buf = append(buf, s...)
		return part(i)
	}

	key := put(h.TenantID)
	hs := make([]Header, len(event.HeaderFields), len(event.HeaderFields)+len(extra))
	hs[0] = Header{event.FieldEventID, put(h.EventID)}
	hs[1] = Header{event.FieldEventName, put(h.EventName)}
	hs[2] = Header{event.FieldSource, put(h.Source)}
	i := len(buf)
	buf = ts.AppendFormat(buf, event.TimestampLayout)
	hs[3] = Header{event.FieldTimestamp, part(i)}
	hs[4] = Header{event.FieldTenantID, put(h.TenantID)}
	hs[5] = Header{event.FieldTraceID, put(h.TraceID)}
	hs[6] = Header{event.FieldVersion, put(h.Version)}
	hs[7] = Header{event.FieldSchema, put(h.Schema)}
	hs = append(hs, extra...)

	i = len(buf)
	buf = buf[:i+FrameHeader]
	putFrameHeader(buf[i:], schemaID)
	buf = append(buf, env.Payload...)

	return Record{Topic: topic, Key: key, Value: part(i), Headers: hs}, nil
}

func checkExtra(topic string, extra []Header) error {
	for i, x := range extra {
		switch {
		case x.Key == "":
			return encodeError(topic, "header", "extra header #"+strconv.Itoa(i)+" has an empty name")
		case !utf8.ValidString(x.Key):
			return encodeError(topic, "header", "extra header #"+strconv.Itoa(i)+" has a name that is not UTF-8")
		case envelopeIndex(x.Key) >= 0:
			return encodeError(topic, headerField(x.Key), "extra header collides with the envelope header of that name")
		case forbiddenName(x.Key):
			return encodeError(topic, headerField(x.Key), "is reserved for the key and value fields of the Redis mapping")
		case !utf8.Valid(x.Value):
			return encodeError(topic, headerField(x.Key), "value is not UTF-8")
		}
		// Spine never writes a name twice, so every transport (and every
		// Redis client that reads an entry as a map) sees the same headers.
		for _, y := range extra[:i] {
			if y.Key == x.Key {
				return encodeError(topic, headerField(x.Key), "extra header is given twice")
			}
		}
	}
	return nil
}

func encodeError(topic, field, reason string) *EncodeError {
	return &EncodeError{Topic: topic, Field: field, Reason: reason, Err: event.ErrInvalid}
}
