package bus

import (
	"context"
	"time"

	"github.com/inopsio/spine/codec"
)

// Transport moves records. Implementations are safe for concurrent use; the
// caller that created a transport closes it.
type Transport interface {
	// Send writes recs and returns once every one is durably accepted by the
	// broker (Kafka: acknowledged by all in-sync replicas). On error, some
	// records may have been written: at-least-once, never at-most-once.
	Send(ctx context.Context, recs ...codec.Record) error

	// Consume delivers the records of sub.Topics to h as a member of
	// sub.Group until ctx ends; then it stops fetching, lets in-flight
	// handlers finish, commits what they completed and returns nil. Records
	// of one key are handed to h one at a time, in order; records of
	// different keys concurrently. A record is committed only after h
	// returned nil for it; one that failed is delivered again.
	Consume(ctx context.Context, sub Subscription, h DeliveryHandler) error

	// Close releases the transport's connections.
	Close() error
}

// Subscription says what to consume.
type Subscription struct {
	Group  string   // consumer group; members share the work
	Topics []string // topics to read
	// FromBeginning makes a group with no committed position start at the
	// oldest record; by default a new group starts at the end.
	FromBeginning bool
	// FromBeginningTopics are topics of Topics that a group with no
	// committed position reads from the oldest record whatever
	// FromBeginning says: retry topics, whose parked records a member that
	// starts after they were written must not skip.
	FromBeginningTopics []string
	// Concurrency bounds handlers running at once (default 8); records of
	// one key never run concurrently.
	Concurrency int
	// RedeliveryDelay is how long a failed record waits before it is
	// delivered again (default 500ms), unless the handler's error is a
	// *DelayError, whose time wins: bus.Client schedules every retry so.
	RedeliveryDelay time.Duration
}

// Defaults for Subscription fields left zero.
const (
	DefaultConcurrency     = 8
	DefaultRedeliveryDelay = 500 * time.Millisecond
)

// WithDefaults returns sub with zero fields set to their defaults.
func (sub Subscription) WithDefaults() Subscription {
	if sub.Concurrency <= 0 {
		sub.Concurrency = DefaultConcurrency
	}
	if sub.RedeliveryDelay <= 0 {
		sub.RedeliveryDelay = DefaultRedeliveryDelay
	}
	return sub
}

// Delivery is one record as a transport hands it over.
type Delivery struct {
	Record    codec.Record
	Partition int32     // Kafka partition; 0 on Redis
	Offset    int64     // Kafka offset; -1 on Redis
	ID        string    // position for humans and tools: "topic/partition/offset" or the stream entry id
	Attempt   int       // 1 on first delivery, counted by the transport
	Timestamp time.Time // when the broker stored the record
}

// DeliveryHandler handles one delivery; a nil return acknowledges it.
type DeliveryHandler func(ctx context.Context, d *Delivery) error
