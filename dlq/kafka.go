package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// Admin is the part of the Kafka admin API the transport does not offer.
type Admin interface {
	// StartOffsets returns the log start offset of every partition of each
	// topic that exists, keyed "topic/partition"; missing topics are left
	// out, not an error.
	StartOffsets(ctx context.Context, topics ...string) (map[string]int64, error)
	// DeleteRecords deletes the records of a partition below offset
	// (Kafka's DeleteRecords: the log start offset moves up to it).
	DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) error
}

// KafkaAdmin implements Admin with franz-go's kadm, mapping logical topic
// names through the transport's namespace.
//
// It is its own client because bus/kafka.Transport does not expose
// DeleteRecords or start offsets; once it does, the transport can serve
// as Admin and this type goes away.
type KafkaAdmin struct {
	cl        *kgo.Client
	adm       *kadm.Client
	namespace string
}

// NewKafkaAdmin connects (lazily, like the transport) to cfg's brokers.
func NewKafkaAdmin(cfg kafka.Config) (*KafkaAdmin, error) {
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("%w: no brokers", kafka.ErrConfig)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	if cfg.DialTimeout > 0 {
		opts = append(opts, kgo.DialTimeout(cfg.DialTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("dlq: admin client: %w", err)
	}
	return &KafkaAdmin{cl: cl, adm: kadm.NewClient(cl), namespace: cfg.Namespace}, nil
}

// Close closes the client.
func (a *KafkaAdmin) Close() { a.cl.Close() }

// StartOffsets implements Admin.
func (a *KafkaAdmin) StartOffsets(ctx context.Context, topics ...string) (map[string]int64, error) {
	wires := make([]string, len(topics))
	for i, t := range topics {
		wires[i] = a.namespace + t
	}
	// Metadata first, asked of the cluster: kadm answers from franz-go's
	// metadata cache, which may not know a topic created a moment ago (a
	// resolution log), and ListStartOffsets reports a missing topic as an
	// error, while a listing must not fail because a DLQ was never created.
	// The fresh answer also refreshes the cache ListStartOffsets uses.
	req := kmsg.NewPtrMetadataRequest()
	for _, w := range wires {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(w)
		req.Topics = append(req.Topics, rt)
	}
	md, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return nil, fmt.Errorf("dlq: metadata: %w", err)
	}
	var existing []string
	for _, td := range md.Topics {
		err := kerr.ErrorForCode(td.ErrorCode)
		switch {
		case td.Topic == nil || errors.Is(err, kerr.UnknownTopicOrPartition):
		case err != nil:
			return nil, fmt.Errorf("dlq: topic %s: %w", *td.Topic, err)
		default:
			existing = append(existing, *td.Topic)
		}
	}
	out := map[string]int64{}
	if len(existing) == 0 {
		return out, nil
	}
	listed, err := a.adm.ListStartOffsets(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("dlq: start offsets: %w", err)
	}
	var errs []error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		pos := Position{Topic: strings.TrimPrefix(o.Topic, a.namespace), Partition: o.Partition}
		out[pos.partitionKey()] = o.Offset
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dlq: start offsets: %w", err)
	}
	return out, nil
}

// DeleteRecords implements Admin.
func (a *KafkaAdmin) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) error {
	var os kadm.Offsets
	os.AddOffset(a.namespace+topic, partition, offset, -1)
	res, err := a.adm.DeleteRecords(ctx, os)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("dlq: delete records of %s/%d below %d: %w", topic, partition, offset, err)
	}
	return nil
}
