package kafka_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/broker"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/internal/kafkatest"
)

// The conformance suite (package bustest) against the embedded broker and
// Apache Kafka: one transport, two brokers.

// conformanceConfig is the transport config of both backends, in the test
// process and in the consumer child.
func conformanceConfig(addr, namespace string, log *slog.Logger) kafka.Config {
	return kafka.Config{
		Brokers:   []string{addr},
		Namespace: namespace,
		Logger:    log,
		// Kafka's smallest allowed session timeout (group.min.session.timeout.ms):
		// a SIGKILLed member's partitions move after 6s rather than 45s.
		SessionTimeout: 6 * time.Second,
		// The producer's batch limit is left at its default: the 1 MiB case
		// proves the defaults carry the largest events the catalog allows.
	}
}

func dialConformance(_ context.Context, addr, namespace string) (bus.Transport, error) {
	return kafka.New(conformanceConfig(addr, namespace, slog.Default()))
}

func newConformanceTransport(t testing.TB, addr, namespace string) bus.Transport {
	tr, err := kafka.New(conformanceConfig(addr, namespace, bustest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// prepareTopics creates the namespace's topics as CatalogTopics does: 3
// partitions and max.message.bytes of kafka.MaxMessageBytes.
func prepareTopics(t testing.TB, addr, namespace string, topics []string) {
	tr, err := kafka.New(conformanceConfig(addr, namespace, bustest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	size := strconv.Itoa(kafka.MaxMessageBytes)
	specs := make([]kafka.TopicSpec, len(topics))
	for i, tp := range topics {
		specs[i] = kafka.TopicSpec{Name: tp, Partitions: 3, Configs: map[string]*string{"max.message.bytes": &size}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.EnsureTopics(ctx, specs...); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
}

func TestConformanceEmbedded(t *testing.T) {
	dir := t.TempDir()
	start := func(t testing.TB, addr string) *broker.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := broker.Start(ctx, broker.Config{Addr: addr, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("embedded broker: %v", err)
		}
		return b
	}
	var mu sync.Mutex // guards b, replaced by Restart
	b := start(t, "127.0.0.1:0")
	addr := b.Addr()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if err := b.Close(); err != nil {
			t.Errorf("broker Close: %v", err)
		}
	})
	bustest.Run(t, bustest.Backend{
		Name:    "embedded",
		New:     func(t testing.TB, ns string) bus.Transport { return newConformanceTransport(t, addr, ns) },
		Prepare: func(t testing.TB, ns string, topics []string) { prepareTopics(t, addr, ns, topics) },
		Restart: func(t testing.TB) {
			mu.Lock()
			defer mu.Unlock()
			if err := b.Close(); err != nil {
				t.Errorf("broker Close: %v", err)
			}
			b = start(t, addr) // same data directory, same port
		},
		Addr: func() string { return addr },
	})
}

func TestConformanceKafka(t *testing.T) {
	addr := bustest.Service(t, "SPINE_TEST_KAFKA")
	// Each case's namespace is dropped (topics, retry and dead-letter topics,
	// groups) once the whole suite is done: a case's consumer child or
	// restarted broker may still touch it during the case's own cleanup.
	var mu sync.Mutex
	used := map[string]bool{}
	t.Cleanup(func() {
		for ns := range used {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := kafkatest.Drop(ctx, []string{addr}, ns); err != nil {
				t.Errorf("%v", err)
			}
			cancel()
		}
	})
	bustest.Run(t, bustest.Backend{
		Name: "kafka",
		New: func(t testing.TB, ns string) bus.Transport {
			mu.Lock()
			used[ns] = true
			mu.Unlock()
			return newConformanceTransport(t, addr, ns)
		},
		Prepare: func(t testing.TB, ns string, topics []string) {
			mu.Lock()
			used[ns] = true
			mu.Unlock()
			prepareTopics(t, addr, ns, topics)
		},
		Restart: func(t testing.TB) { bustest.RestartService(t, "kafka") },
		Addr:    func() string { return addr },
	})
}
