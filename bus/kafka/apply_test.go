package kafka_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
)

// ApplyCatalog creates what is missing, changes nothing the second time,
// puts back a drifted retention and grows a DLQ behind its grown source.
func TestApplyCatalog(t *testing.T) {
	cat := catalog.MustDefault()
	eachBackend(t, func(t *testing.T, brokers []string) {
		tr := newTransport(t, brokers, 1)
		ns := tr.Namespace()
		states, err := tr.ApplyCatalog(t.Context(), cat, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := 2 * len(cat.Events()) // each event's topic and DLQ …
		for _, e := range cat.Events() {
			want += len(bus.RetryTopics(cat, e.Topic)) // … and retry topics
		}
		if len(states) != want {
			t.Fatalf("%d topics applied, want %d", len(states), want)
		}
		for _, s := range states {
			if !s.Created || s.Partitions != 2 {
				t.Errorf("first apply: %+v, want created with 2 partitions", s)
			}
			keep := strings.HasSuffix(s.Name, ".dlq") || strings.Contains(s.Name, ".retry-")
			if keep != slices.Contains(s.Set, "retention.ms=604800000") {
				t.Errorf("%s: retention set %v; want 7 days on retry and dead-letter topics only", s.Name, s.Set)
			}
		}
		if !slices.ContainsFunc(states, func(s kafka.TopicState) bool { return s.Name == "lead.created.retry-4" }) ||
			slices.ContainsFunc(states, func(s kafka.TopicState) bool { return s.Name == "deal.stage.changed.retry-1" }) {
			t.Errorf("retry topics: want them for non-blocking lead.created, none for strict deal.stage.changed")
		}

		again, err := tr.ApplyCatalog(t.Context(), cat, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range again {
			if s.Created || s.Grown || len(s.Set) > 0 {
				t.Errorf("second apply changed %+v", s)
			}
		}

		// An operator shortened a DLQ's retention and grew a source topic.
		adm := kadm.NewClient(rawClient(t, brokers))
		hour := "3600000"
		if _, err := adm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &hour}},
			ns+"lead.created.dlq"); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.UpdatePartitions(t.Context(), 5, ns+"invoice.generated"); err != nil {
			t.Fatal(err)
		}
		// Apache Kafka applies both asynchronously: wait until the broker
		// shows them, so apply sees the drift.
		waitFor(t, "drift visible", 30*time.Second, func() bool {
			cfgs, err := adm.DescribeTopicConfigs(t.Context(), ns+"lead.created.dlq")
			if err != nil || len(cfgs) != 1 {
				return false
			}
			details, err := adm.ListTopics(t.Context(), ns+"invoice.generated")
			return err == nil && configIs(cfgs[0].Configs, "retention.ms", hour) && len(details[ns+"invoice.generated"].Partitions) == 5
		})
		fixed, err := tr.ApplyCatalog(t.Context(), cat, 2)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]kafka.TopicState{}
		for _, s := range fixed {
			byName[s.Name] = s
		}
		if s := byName["lead.created.dlq"]; !slices.Contains(s.Set, "retention.ms=604800000") {
			t.Errorf("drifted retention not put back: %+v", s)
		}
		if s := byName["invoice.generated.dlq"]; !s.Grown || s.Partitions != 5 {
			t.Errorf("DLQ did not follow its source to 5 partitions: %+v", s)
		}
		waitFor(t, "retention put back on the broker", 30*time.Second, func() bool {
			cfgs, err := adm.DescribeTopicConfigs(t.Context(), ns+"lead.created.dlq")
			return err == nil && len(cfgs) == 1 && configIs(cfgs[0].Configs, "retention.ms", "604800000")
		})
	})
}

func configIs(cs []kadm.Config, key, want string) bool {
	for _, c := range cs {
		if c.Key == key {
			return c.Value != nil && *c.Value == want
		}
	}
	return false
}
