package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/broker"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		crashChild(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, dir string) *broker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return b
}

func client(t *testing.T, b *broker.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// consumeN reads n records of topic from the start, as group (committing
// them) when group is set.
func consumeN(t *testing.T, b *broker.Broker, topic, group string, n int) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	}
	cl := client(t, b, opts...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll after %d of %d records: %v", len(got), n, err)
		}
		got = append(got, fs.Records()...)
	}
	if group != "" {
		if err := cl.CommitRecords(ctx, got...); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	return got
}

func TestRecordsAndOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	addr := b.Addr()

	cl := client(t, b)
	const n = 20
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "lead.created", Key: fmt.Appendf(nil, "tenant-%d", i%4),
			Value: fmt.Appendf(nil, "v%d", i), Headers: []kgo.RecordHeader{{Key: "event_id", Value: fmt.Appendf(nil, "%d", i)}}})
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
	// The group reads and commits the first batch.
	if got := consumeN(t, b, "lead.created", "g1", n); len(got) != n {
		t.Fatalf("consumed %d", len(got))
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	b = start(t, dir)
	defer b.Close()
	if b.Addr() == "" {
		t.Fatal("no address after restart")
	}
	t.Logf("first run on %s, second on %s", addr, b.Addr())
	got := consumeN(t, b, "lead.created", "", n)
	seen := map[string]string{}
	for _, r := range got {
		seen[string(r.Headers[0].Value)] = string(r.Value)
	}
	for i := range n {
		if seen[fmt.Sprint(i)] != fmt.Sprintf("v%d", i) {
			t.Errorf("record %d missing after restart (have %v)", i, seen)
		}
	}

	// The group's commit survived too: nothing is left for it.
	adm := kadm.NewClient(client(t, b))
	defer adm.Close()
	lag, err := adm.Lag(t.Context(), "g1")
	if err != nil {
		t.Fatal(err)
	}
	if total := lag["g1"].Lag.Total(); total != 0 {
		t.Errorf("group g1 lag after restart = %d, want 0 (commits lost)", total)
	}
}

func TestCatalogTopicsExist(t *testing.T) {
	b := start(t, t.TempDir())
	defer b.Close()
	adm := kadm.NewClient(client(t, b))
	defer adm.Close()
	topics, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.MustDefault()
	for _, e := range cat.Events() {
		for _, name := range []string{e.Topic, bus.DLQTopic(e.Topic)} {
			d, ok := topics[name]
			if !ok {
				t.Errorf("topic %s missing", name)
				continue
			}
			if len(d.Partitions) != broker.DefaultPartitions {
				t.Errorf("topic %s has %d partitions, want %d", name, len(d.Partitions), broker.DefaultPartitions)
			}
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(t.Context(), "lead.created.dlq")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("lead.created.dlq", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() == "604800000" {
			found = true
		}
	}
	if !found {
		t.Errorf("lead.created.dlq has no 7-day retention: %+v", rc.Configs)
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	defer b.Close()
	_, err := broker.Start(t.Context(), broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: quiet()})
	if !errors.Is(err, broker.ErrDataDirInUse) {
		t.Fatalf("second Start on a data dir in use: err = %v, want ErrDataDirInUse", err)
	}
	t.Log(err)
	// Once the first broker is closed the directory is free again.
	b.Close()
	b2 := start(t, dir)
	b2.Close()
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  broker.Config
	}{
		{"no data dir", broker.Config{Addr: "127.0.0.1:0"}},
		{"wildcard host", broker.Config{Addr: "0.0.0.0:0", DataDir: t.TempDir()}},
		{"empty host", broker.Config{Addr: ":0", DataDir: t.TempDir()}},
		{"no port", broker.Config{Addr: "127.0.0.1", DataDir: t.TempDir()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet()
			if b, err := broker.Start(t.Context(), tc.cfg); err == nil {
				b.Close()
				t.Fatal("Start succeeded")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestAddressInUse(t *testing.T) {
	b := start(t, t.TempDir())
	defer b.Close()
	_, err := broker.Start(t.Context(), broker.Config{Addr: b.Addr(), DataDir: t.TempDir(), Logger: quiet()})
	if err == nil {
		t.Fatal("second broker on the same address started")
	}
	t.Log(err)
}
