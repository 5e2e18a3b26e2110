package bus

import (
	"time"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// Outgoing is an event to publish.
type Outgoing struct {
	Event   string // catalog name, e.g. "lead.created"
	Payload []byte // JSON payload; validated before anything is sent
	// Version is the schema version the payload follows; empty = current.
	Version string
	// EventID keeps an existing event_id (a replay); empty = a new one.
	EventID string
	// Timestamp keeps an existing time; zero = now.
	Timestamp time.Time
	// Headers are extra record headers (not envelope fields).
	Headers []codec.Header
}

// Message is one received event, decoded and checked against the catalog.
type Message struct {
	event.Envelope
	SchemaID  int
	Topic     string
	Partition int32
	Offset    int64
	ID        string // transport position, e.g. "lead.created/0/42"
	Attempt   int    // 1 on first delivery
	Timestamp time.Time
	Headers   []codec.Header // extra headers (traceparent, authorization…)
	// Encrypted reports that the event's PII fields arrived encrypted.
	// Payload holds them decrypted when the client has a PII cipher
	// (WithPII), as ciphertext strings otherwise.
	Encrypted bool

	event  *catalog.Event // its catalog entry
	hasPII bool           // its schema version has PII fields
}
