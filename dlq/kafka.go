package dlq

import (
	"context"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// Log is what package dlq needs of the Kafka transport; *kafka.Transport
// has it. Topics are logical names throughout.
type Log interface {
	Read(ctx context.Context, opts kafka.ReadOptions, h bus.DeliveryHandler) error
	Send(ctx context.Context, recs ...codec.Record) error
	EnsureTopics(ctx context.Context, specs ...kafka.TopicSpec) error
}

// Admin is the part of the Kafka admin API the manager needs;
// *kafka.Transport implements it.
type Admin interface {
	// StartOffsets returns the log start offset of every partition of each
	// topic that exists, by topic and partition; missing topics are left
	// out, not an error.
	StartOffsets(ctx context.Context, topics ...string) (map[string]map[int32]int64, error)
	// DeleteRecords deletes the records of a partition below offset
	// (Kafka's DeleteRecords: the log start offset moves up to it).
	DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) error
}

var (
	_ Log   = (*kafka.Transport)(nil)
	_ Admin = (*kafka.Transport)(nil)
)
