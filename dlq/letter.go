package dlq

import (
	"strconv"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// Letter is one dead letter: a record of a "<topic>.dlq" topic, which is the
// original record untouched plus the spine-* failure headers (bus writes it
// so; docs/wire-format.md lists the headers).
//
// Every field is read leniently, header by header: a record is often
// dead-lettered because its envelope does not decode, and it must still be
// listed. A header that is missing, repeated or unreadable leaves its field
// empty ("" or null in JSON) instead of failing the letter.
//
// The JSON form is what `spine dlq list --json` prints; scripts rely on the
// field names.
type Letter struct {
	ID        string   `json:"id"` // the DLQ position, "lead.created.dlq/0/5"
	Position  Position `json:"-"`
	EventID   string   `json:"event_id"`
	EventName string   `json:"event_name"`
	TenantID  string   `json:"tenant_id"`
	// Where the record was when it failed (spine-original-*).
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition *int32 `json:"partition"`
	OriginalOffset    *int64 `json:"offset"`
	ConsumerGroup     string `json:"consumer_group"`
	// Attempts is spine-attempt: the deliveries that failed.
	Attempts     *int       `json:"attempts"`
	ErrorKind    string     `json:"error_kind"`
	Error        string     `json:"error"`
	FirstFailure *time.Time `json:"first_failure"`
	LastFailure  *time.Time `json:"last_failure"`
	// ReplayCount is how often the event was replayed out of a DLQ before
	// it landed here (spine-replay-count; 0 when never).
	ReplayCount int `json:"replay_count"`
	// DeadLetteredAt is the broker's timestamp of the dead letter.
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
	// Status is "open", or the action that resolved the letter.
	Status     string      `json:"status"`
	Resolution *Resolution `json:"resolution,omitempty"`

	// Record is the dead letter as stored; its Value is nil when the letter
	// was read for a listing.
	Record codec.Record `json:"-"`
}

// Status values of a letter.
const (
	StatusOpen     = "open"
	StatusReplayed = "replayed"
	StatusPurged   = "purged"
)

// parseLetter reads a delivery of a DLQ topic.
func parseLetter(d *bus.Delivery, keepValue bool) *Letter {
	r := d.Record
	pos := Position{Topic: r.Topic, Partition: d.Partition, Offset: d.Offset}
	l := &Letter{
		ID: pos.String(), Position: pos, Status: StatusOpen,
		EventID:        text(r, event.FieldEventID),
		EventName:      text(r, event.FieldEventName),
		TenantID:       text(r, event.FieldTenantID),
		OriginalTopic:  text(r, codec.HeaderOriginalTopic),
		ConsumerGroup:  text(r, codec.HeaderConsumerGroup),
		ErrorKind:      text(r, codec.HeaderErrorKind),
		Error:          text(r, codec.HeaderErrorMessage),
		FirstFailure:   timestamp(r, codec.HeaderFirstFailure),
		LastFailure:    timestamp(r, codec.HeaderLastFailure),
		DeadLetteredAt: d.Timestamp.UTC(),
		Record:         r,
	}
	if n, ok := number(r, codec.HeaderOriginalPartition, 31); ok {
		p := int32(n)
		l.OriginalPartition = &p
	}
	if n, ok := number(r, codec.HeaderOriginalOffset, 63); ok {
		l.OriginalOffset = &n
	}
	if n, ok := number(r, codec.HeaderAttempt, 31); ok {
		a := int(n)
		l.Attempts = &a
	}
	if n, ok := number(r, codec.HeaderReplayCount, 31); ok {
		l.ReplayCount = int(n)
	}
	if !keepValue {
		l.Record.Value = nil
	}
	return l
}

// OriginalPosition is where the record was consumed from, when the headers
// say so completely.
func (l *Letter) OriginalPosition() (Position, bool) {
	if l.OriginalTopic == "" || l.OriginalPartition == nil || l.OriginalOffset == nil {
		return Position{}, false
	}
	return Position{Topic: l.OriginalTopic, Partition: *l.OriginalPartition, Offset: *l.OriginalOffset}, true
}

// when is the time the letter was dead-lettered: the last failure, else the
// broker's timestamp.
func (l *Letter) when() time.Time {
	if l.LastFailure != nil {
		return *l.LastFailure
	}
	return l.DeadLetteredAt
}

// tenant is the tenant_id header, else the key (they are equal on every
// record that decodes).
func (l *Letter) tenant() string {
	if l.TenantID != "" {
		return l.TenantID
	}
	return string(l.Record.Key)
}

func (l *Letter) resolve(r *Resolution) {
	l.Resolution = r
	l.Status = r.Action
}

// text is a header's value when it occurs exactly once.
func text(r codec.Record, name string) string {
	if v, ok := r.Header(name); ok {
		return string(v)
	}
	return ""
}

func number(r codec.Record, name string, bits int) (int64, bool) {
	v, ok := r.Header(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, bits+1)
	return n, err == nil && n >= 0
}

func timestamp(r codec.Record, name string) *time.Time {
	v, ok := r.Header(name)
	if !ok {
		return nil
	}
	t, err := event.ParseTimestamp(string(v))
	if err != nil {
		return nil
	}
	return &t
}
