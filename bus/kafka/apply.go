package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
)

// TopicState reports what ApplyTopics found and did for one topic.
type TopicState struct {
	Name       string   // logical name
	Created    bool     // the topic did not exist
	Partitions int32    // partitions after apply
	Grown      bool     // the partition count was raised
	Set        []string // configs set (at creation, or changed), "key=value"
}

// ApplyCatalog makes the cluster match the catalog: every catalog topic, its
// retry topics and its dead-letter topic exist with at least partitions
// partitions and the configs of CatalogTopics (7-day retention on retry and
// dead-letter topics, the message size limit); a retry or dead-letter topic
// has at least as many partitions as its source, so a source grown by an
// operator never funnels into fewer partitions. Existing topics keep their data; configs are set
// incrementally, changing only the keys Spine owns. Idempotent.
func (t *Transport) ApplyCatalog(ctx context.Context, cat *catalog.Catalog, partitions int32) ([]TopicState, error) {
	specs := CatalogTopics(cat, partitions)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = t.ns.wire(s.Name)
	}
	before, err := t.partitionCounts(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("kafka: apply topics: %w", err)
	}
	// A DLQ follows the partition count of its source.
	source := map[string]int32{}
	for _, s := range specs {
		if pc := before[t.ns.wire(s.Name)]; pc.err == nil {
			source[s.Name] = pc.n
		}
	}
	for i, s := range specs {
		for src, n := range source {
			if (s.Name == bus.DLQTopic(src) || strings.HasPrefix(s.Name, src+".retry-")) && n > s.Partitions {
				specs[i].Partitions = n
			}
		}
	}
	if err := t.EnsureTopics(ctx, specs...); err != nil {
		return nil, err
	}
	after, err := t.settledCounts(ctx, names, specs)
	if err != nil {
		return nil, fmt.Errorf("kafka: apply topics: %w", err)
	}
	current, err := t.admin.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("kafka: apply topics: describe configs: %w", err)
	}
	states := make([]TopicState, len(specs))
	var errs []error
	for i, s := range specs {
		w := t.ns.wire(s.Name)
		st := TopicState{Name: s.Name, Partitions: after[w].n,
			Created: errors.Is(before[w].err, kerr.UnknownTopicOrPartition), Grown: before[w].err == nil && after[w].n > before[w].n}
		rc, rerr := current.On(w, nil)
		if rerr != nil || rc.Err != nil {
			errs = append(errs, fmt.Errorf("topic %s: describe configs: %w", s.Name, errors.Join(rerr, rc.Err)))
			continue
		}
		var alter []kadm.AlterConfig
		for _, k := range sortedKeys(s.Configs) {
			want := s.Configs[k]
			if st.Created { // set at creation
				st.Set = append(st.Set, k+"="+*want)
				continue
			}
			if have := configValue(rc.Configs, k); have == nil || *have != *want {
				alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: want})
				st.Set = append(st.Set, k+"="+*want)
			}
		}
		if len(alter) > 0 {
			res, err := t.admin.AlterTopicConfigs(ctx, alter, w)
			if err == nil {
				var r kadm.AlterConfigsResponse
				if r, err = res.On(w, nil); err == nil {
					err = r.Err
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("topic %s: set %v: %w", s.Name, st.Set, err))
			}
		}
		states[i] = st
	}
	if err := errors.Join(errs...); err != nil {
		return states, fmt.Errorf("kafka: apply topics: %w", err)
	}
	return states, nil
}

func configValue(cs []kadm.Config, key string) *string {
	for _, c := range cs {
		if c.Key == key {
			return c.Value
		}
	}
	return nil
}

func sortedKeys(m map[string]*string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// settleTimeout bounds how long ApplyCatalog waits for the cluster's
// metadata to show the topics it created or grew.
const settleTimeout = 15 * time.Second

// settledCounts reads the partition counts of names (wire names of specs)
// until every topic exists with at least its spec's partitions. Apache
// Kafka creates topics and adds partitions asynchronously: metadata read
// right after the request can still show the old count, and apply must
// report, and leave, the state it made.
func (t *Transport) settledCounts(ctx context.Context, names []string, specs []TopicSpec) (map[string]partitionCount, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		counts, err := t.partitionCounts(ctx, names)
		if err != nil {
			return nil, err
		}
		settled := true
		for i, w := range names {
			if pc := counts[w]; pc.err != nil || pc.n < specs[i].Partitions {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			return counts, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
