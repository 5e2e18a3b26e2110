package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
)

// TopicSpec describes a topic EnsureTopics creates.
type TopicSpec struct {
	Name string // logical name; the transport's namespace is added
	// Partitions is the partition count (≤ 0: the broker's default).
	Partitions int32
	// ReplicationFactor (≤ 0: the broker's default.replication.factor).
	ReplicationFactor int16
	// Configs are topic configs (retention.ms, cleanup.policy…), applied
	// when the topic is created; existing topics keep theirs.
	Configs map[string]*string
}

// DLQRetention is how long dead letters are kept: 7 days (spec §8).
const DLQRetention = "604800000"

// CatalogTopics returns a spec for every topic of cat, for its retry topics
// (bus.RetryTopics: non-blocking events only) and for its dead-letter topic,
// each with partitions partitions and max.message.bytes of MaxMessageBytes;
// retry and dead-letter topics keep records for seven days (spec §8), so a
// consumer group down for days still finds its parked retries. A topic
// shared by several events is listed once.
func CatalogTopics(cat *catalog.Catalog, partitions int32) []TopicSpec {
	seen := make(map[string]bool)
	var specs []TopicSpec
	for _, e := range cat.Events() {
		if seen[e.Topic] {
			continue
		}
		seen[e.Topic] = true
		specs = append(specs, TopicSpec{Name: e.Topic, Partitions: partitions, Configs: topicConfigs(false)})
		for _, rt := range bus.RetryTopics(cat, e.Topic) {
			specs = append(specs, TopicSpec{Name: rt, Partitions: partitions, Configs: topicConfigs(true)})
		}
		specs = append(specs, TopicSpec{Name: bus.DLQTopic(e.Topic), Partitions: partitions, Configs: topicConfigs(true)})
	}
	return specs
}

// topicConfigs are the configs Spine owns on its topics: the size limit
// everywhere, and seven days' retention on retry and dead-letter topics.
func topicConfigs(keepSevenDays bool) map[string]*string {
	maxBytes := strconv.Itoa(MaxMessageBytes)
	cfg := map[string]*string{"max.message.bytes": &maxBytes}
	if keepSevenDays {
		retention := DLQRetention
		cfg["retention.ms"] = &retention
	}
	return cfg
}

// PrepareRetryTopics creates the retry topics that do not exist yet, each
// with its origin topic's partition count (so a key keeps one partition)
// and the configs of CatalogTopics; bus.Client calls it when it subscribes.
func (t *Transport) PrepareRetryTopics(ctx context.Context, retryTopics map[string][]string) error {
	origins := make([]string, 0, len(retryTopics))
	for o := range retryTopics {
		origins = append(origins, t.ns.wire(o))
	}
	counts, err := t.partitionCounts(ctx, origins)
	if err != nil {
		return fmt.Errorf("kafka: retry topics: %w", err)
	}
	var specs []TopicSpec
	for o, rts := range retryTopics {
		n := int32(-1) // the broker's default when the origin does not exist yet
		if pc := counts[t.ns.wire(o)]; pc.err == nil {
			n = pc.n
		}
		for _, rt := range rts {
			specs = append(specs, TopicSpec{Name: rt, Partitions: n, Configs: topicConfigs(true)})
		}
	}
	return t.EnsureTopics(ctx, specs...)
}

var _ bus.RetryParker = (*Transport)(nil)

// createTimeout is how long the controller may take to create topics.
const createTimeout = 30_000 // ms

// EnsureTopics creates the topics of specs that do not exist and raises the
// partition count of those that have fewer than their spec asks. It is
// idempotent, and safe to race with another caller: a topic created in
// between is not an error. It never shrinks, deletes or reconfigures a topic.
func (t *Transport) EnsureTopics(ctx context.Context, specs ...TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	byWire := make(map[string]TopicSpec, len(specs))
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.Name == "" {
			return fmt.Errorf("%w: topic spec without a name", ErrConfig)
		}
		w := t.ns.wire(s.Name)
		if _, dup := byWire[w]; !dup {
			names = append(names, w)
		}
		byWire[w] = s
	}
	parts, err := t.partitionCounts(ctx, names)
	if err != nil {
		return fmt.Errorf("kafka: ensure topics: %w", err)
	}
	var missing []string
	grow := make(map[string]int32)
	var errs []error
	for _, w := range names {
		n, err := parts[w].n, parts[w].err
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			missing = append(missing, w)
		case err != nil:
			errs = append(errs, fmt.Errorf("topic %s: %w", t.topicName(w), err))
		case byWire[w].Partitions > n:
			grow[w] = byWire[w].Partitions
		}
	}
	if len(missing) > 0 {
		errs = append(errs, t.createTopics(ctx, missing, byWire))
	}
	for w, n := range grow {
		res, err := t.admin.UpdatePartitions(ctx, int(n), w)
		if err == nil {
			err = res[w].Err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: raise partitions to %d: %w", t.topicName(w), n, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka: ensure topics: %w", err)
	}
	return nil
}

type partitionCount struct {
	n   int32
	err error
}

// partitionCounts asks the cluster, bypassing franz-go's metadata cache
// (which may still say a topic created a moment ago is missing), how many
// partitions each topic has.
func (t *Transport) partitionCounts(ctx context.Context, topics []string) (map[string]partitionCount, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, w := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(w)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, t.producer)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	out := make(map[string]partitionCount, len(topics))
	for _, w := range topics {
		out[w] = partitionCount{err: kerr.UnknownTopicOrPartition}
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		out[*rt.Topic] = partitionCount{n: int32(len(rt.Partitions)), err: kerr.ErrorForCode(rt.ErrorCode)}
	}
	return out, nil
}

// createTopics creates topics in one request; each topic carries its own
// partitions, replication and configs, which kadm's CreateTopics shares.
func (t *Transport) createTopics(ctx context.Context, wires []string, specs map[string]TopicSpec) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = createTimeout
	for _, w := range wires {
		s := specs[w]
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = w
		rt.NumPartitions = -1
		if s.Partitions > 0 {
			rt.NumPartitions = s.Partitions
		}
		rt.ReplicationFactor = -1
		if s.ReplicationFactor > 0 {
			rt.ReplicationFactor = s.ReplicationFactor
		}
		for k, v := range s.Configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, v
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, t.producer)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, rt := range resp.Topics {
		err := kerr.ErrorForCode(rt.ErrorCode)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			continue
		}
		if rt.ErrorMessage != nil {
			err = fmt.Errorf("%w: %s", err, *rt.ErrorMessage)
		}
		errs = append(errs, fmt.Errorf("create topic %s (partitions %s): %w",
			t.topicName(rt.Topic), strconv.Itoa(int(specs[rt.Topic].Partitions)), err))
	}
	return errors.Join(errs...)
}
