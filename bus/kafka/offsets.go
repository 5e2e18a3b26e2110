package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// existing returns the wire names of the topics that exist. It asks the
// cluster, not franz-go's metadata cache (which may not yet know a topic
// created a moment ago), and the answer refreshes that cache for the kadm
// calls that follow.
func (t *Transport) existing(ctx context.Context, topics []string) ([]string, error) {
	wires := t.ns.wireAll(topics)
	parts, err := t.partitionCounts(ctx, wires)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range wires {
		switch err := parts[w].err; {
		case err == nil:
			out = append(out, w)
		case errors.Is(err, kerr.UnknownTopicOrPartition):
		default:
			return nil, fmt.Errorf("topic %s: %w", t.topicName(w), err)
		}
	}
	return out, nil
}

// StartOffsets returns where each partition of topics begins now — the log
// start offset, which retention and DeleteRecords move up — by logical
// topic. Topics that do not exist are left out: a listing must not fail
// because a topic was never created.
func (t *Transport) StartOffsets(ctx context.Context, topics ...string) (map[string]map[int32]int64, error) {
	wires, err := t.existing(ctx, topics)
	if err != nil {
		return nil, fmt.Errorf("kafka: start offsets: %w", err)
	}
	out := map[string]map[int32]int64{}
	if len(wires) == 0 {
		return out, nil
	}
	listed, err := t.admin.ListStartOffsets(ctx, wires...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start offsets: %w", err)
	}
	var errs []error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", t.ns.logical(o.Topic), o.Partition, o.Err))
			return
		}
		topic := t.ns.logical(o.Topic)
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][o.Partition] = o.Offset
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka: start offsets: %w", err)
	}
	return out, nil
}

// DeleteRecords deletes the records of a partition below offset (Kafka's
// DeleteRecords: the partition's log start offset moves up to it).
func (t *Transport) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) error {
	var os kadm.Offsets
	os.AddOffset(t.ns.wire(topic), partition, offset, -1)
	res, err := t.admin.DeleteRecords(ctx, os)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka: delete records of %s/%d below %d: %w", topic, partition, offset, err)
	}
	return nil
}
