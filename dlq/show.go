package dlq

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/inopsio/spine/codec"
)

// Shown is the whole dead letter as `spine dlq show` prints it: the letter's
// summary (as in a listing), then the record itself — key, every header in
// order, and the value.
//
// Bytes that are UTF-8 are shown as text, others in base64 under a
// "_base64" name. The value is shown as JSON when it is a Confluent-framed
// JSON payload (the Spine layout), else in base64. Nothing is decrypted:
// PII fields stay as they are on the wire.
type Shown struct {
	*Letter
	Topic     string        `json:"topic"`
	Partition int32         `json:"dlq_partition"`
	Offset    int64         `json:"dlq_offset"`
	Timestamp time.Time     `json:"timestamp"`
	Key       *string       `json:"key,omitempty"`
	KeyBase64 *string       `json:"key_base64,omitempty"`
	Headers   []ShownHeader `json:"headers"`
	// SchemaID and Value are set for a Confluent-framed JSON value;
	// ValueBase64 otherwise.
	SchemaID    *int            `json:"schema_id,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 *string         `json:"value_base64,omitempty"`
}

// ShownHeader is one record header.
type ShownHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
}

// Show renders l for display.
func (l *Letter) Show() Shown {
	r := l.Record
	s := Shown{Letter: l, Topic: l.Position.Topic, Partition: l.Position.Partition, Offset: l.Position.Offset,
		Timestamp: l.DeadLetteredAt, Headers: make([]ShownHeader, len(r.Headers))}
	s.Key, s.KeyBase64 = textOrBase64(r.Key)
	for i, h := range r.Headers {
		s.Headers[i].Key = h.Key
		s.Headers[i].Value, s.Headers[i].ValueBase64 = textOrBase64(h.Value)
	}
	if id, payload, err := codec.Unframe(r.Value); err == nil && json.Valid(payload) {
		s.SchemaID, s.Value = &id, payload
	} else if r.Value != nil {
		b := base64.StdEncoding.EncodeToString(r.Value)
		s.ValueBase64 = &b
	}
	return s
}

func textOrBase64(b []byte) (text, b64 *string) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}
