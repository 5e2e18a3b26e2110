package codec

import (
	"strings"
	"unicode/utf8"

	"github.com/inopsio/spine/event"
)

// DefaultMaxValueBytes bounds a record value before anything else is read:
// the 5-byte frame header plus the 2 MiB payload limit of
// schema.DefaultMaxPayloadBytes.
const DefaultMaxValueBytes = 2<<20 + FrameHeader

// Decoded is what a record carries.
type Decoded struct {
	// Envelope holds the validated header; Payload aliases the record's value
	// and is not checked here beyond being non-empty (package schema does
	// that).
	Envelope event.Envelope
	SchemaID int
	// Extra lists the headers after the envelope headers, in record order,
	// duplicates of names other than authorization and spine-* included. It
	// may share the record's header array; nil when there are none.
	Extra []Header
}

// Decoder decodes records. The zero value is ready to use.
type Decoder struct {
	// MaxValueBytes bounds len(Record.Value); 0 or less means
	// DefaultMaxValueBytes.
	MaxValueBytes int
}

// Decode decodes rec with the default Decoder.
func Decode(rec Record) (Decoded, error) { return Decoder{}.Decode(rec) }

// Decode checks that rec is a Spine event and returns it. Every failure is a
// *DecodeError; the checks run in the order docs/wire-format.md lists, and the
// first failure is reported:
//
//  1. the value's size, then its Confluent frame (Unframe);
//  2. each header in record order: a non-empty UTF-8 name other than "key"
//     or "value", a UTF-8 value, no second envelope header of a name, no
//     second authorization or spine-* header;
//  3. every envelope header present (in spec order);
//  4. the timestamp's syntax, YYYY-MM-DDTHH:MM:SS[.fraction]Z, and date;
//  5. event.Header.Validate;
//  6. key == tenant_id.
//
// Envelope headers may come in any order; Encode writes them in spec order.
func (d Decoder) Decode(rec Record) (Decoded, error) {
	max := d.MaxValueBytes
	if max <= 0 {
		max = DefaultMaxValueBytes
	}
	if len(rec.Value) > max {
		e := valueError("is %d bytes, over the %d-byte limit", len(rec.Value), max)
		e.Topic = rec.Topic
		return Decoded{}, e
	}
	schemaID, payload, err := Unframe(rec.Value)
	if err != nil {
		err.(*DecodeError).Topic = rec.Topic
		return Decoded{}, err
	}

	// pos[f] is 1 + the index of envelope header f in rec.Headers.
	var pos [len(event.HeaderFields)]int
	inOrder := true
	total := 0
	for i, h := range rec.Headers {
		if err := checkHeader(rec, i); err != nil {
			return Decoded{}, err
		}
		f := envelopeIndex(h.Key)
		if f < 0 {
			continue
		}
		if pos[f] != 0 {
			return Decoded{}, decodeError(rec.Topic, headerField(h.Key),
				"occurs twice (headers #%d and #%d); a reader must not pick one", pos[f]-1, i)
		}
		pos[f] = i + 1
		inOrder = inOrder && i == f
		total += len(h.Value)
	}
	for f, p := range pos {
		if p == 0 {
			return Decoded{}, decodeError(rec.Topic, headerField(event.HeaderFields[f]), "is missing")
		}
	}

	// One allocation holds every header string; each field is a substring.
	var sb strings.Builder
	sb.Grow(total)
	for _, p := range pos {
		sb.Write(rec.Headers[p-1].Value)
	}
	all := sb.String()
	var vals [len(pos)]string
	off := 0
	for f, p := range pos {
		n := len(rec.Headers[p-1].Value)
		vals[f] = all[off : off+n]
		off += n
	}

	ts, err := parseTimestamp(vals[3])
	if err != nil {
		return Decoded{}, decodeError(rec.Topic, headerField(event.FieldTimestamp), "%s", err)
	}
	h := event.Header{
		EventID: vals[0], EventName: vals[1], Source: vals[2], Timestamp: ts,
		TenantID: vals[4], TraceID: vals[5], Version: vals[6], Schema: vals[7],
	}
	if err := h.Validate(); err != nil {
		field, reason := fromValidation(err)
		return Decoded{}, &DecodeError{Topic: rec.Topic, Field: field, Reason: reason, Err: err}
	}
	if string(rec.Key) != h.TenantID {
		return Decoded{}, decodeError(rec.Topic, "key",
			"is %q, not the tenant_id %q; per-tenant ordering needs the tenant as key", clip(string(rec.Key)), h.TenantID)
	}

	return Decoded{
		Envelope: event.Envelope{Header: h, Payload: payload},
		SchemaID: schemaID,
		Extra:    extraHeaders(rec.Headers, inOrder),
	}, nil
}

// checkHeader applies the per-header rules to rec.Headers[i].
func checkHeader(rec Record, i int) error {
	h := rec.Headers[i]
	switch {
	case h.Key == "":
		return decodeError(rec.Topic, "header", "header #%d has an empty name", i)
	case !utf8.ValidString(h.Key):
		return decodeError(rec.Topic, "header", "header #%d has a name that is not UTF-8: %q", i, clip(h.Key))
	case forbiddenName(h.Key):
		return decodeError(rec.Topic, headerField(h.Key), "header #%d uses a name reserved for the key and value fields of the Redis mapping", i)
	case !utf8.Valid(h.Value):
		return decodeError(rec.Topic, headerField(h.Key), "header #%d has a value that is not UTF-8: %q", i, clip(string(h.Value)))
	}
	if mustBeUnique(h.Key) {
		for j, g := range rec.Headers[:i] {
			if g.Key == h.Key {
				return decodeError(rec.Topic, headerField(h.Key),
					"occurs twice (headers #%d and #%d); a reader must not pick one", j, i)
			}
		}
	}
	return nil
}

// extraHeaders returns the non-envelope headers. In the layout Encode writes
// they are the tail of the array, which is returned without copying.
func extraHeaders(hs []Header, inOrder bool) []Header {
	n := len(hs) - len(event.HeaderFields)
	if n == 0 {
		return nil
	}
	if inOrder {
		return hs[len(event.HeaderFields):len(hs):len(hs)]
	}
	extra := make([]Header, 0, n)
	for _, h := range hs {
		if envelopeIndex(h.Key) < 0 {
			extra = append(extra, h)
		}
	}
	return extra
}
