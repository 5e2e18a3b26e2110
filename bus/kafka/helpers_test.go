package kafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/broker"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/internal/kafkatest"
)

// backend is a Kafka-protocol broker the tests run against.
type backend struct {
	name    string
	brokers func(testing.TB) []string
}

// backends are the embedded broker (always) and Apache Kafka (when
// SPINE_TEST_KAFKA is set).
var backends = []backend{
	{"embedded", func(t testing.TB) []string {
		b, err := broker.Start(t.Context(), broker.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger()})
		if err != nil {
			t.Fatalf("embedded broker: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return []string{b.Addr()}
	}},
	{"kafka", func(t testing.TB) []string { return []string{bustest.Service(t, "SPINE_TEST_KAFKA")} }},
}

// eachBackend runs fn as a subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, brokers []string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.brokers(t)) })
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("SPINE_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// namespace is unique per test, so tests share a real broker safely; its
// topics and groups are deleted when the test ends.
func namespace(t testing.TB, brokers []string) string {
	return kafkatest.Namespace(t, brokers, "t-")
}

// newTransport returns a transport in a fresh namespace with topics (and
// their dead-letter topics) created with partitions partitions.
func newTransport(t testing.TB, brokers []string, partitions int32, topics ...string) *kafka.Transport {
	t.Helper()
	tr, err := kafka.New(kafka.Config{Brokers: brokers, Namespace: namespace(t, brokers), Logger: testLogger(),
		FetchMaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	var specs []kafka.TopicSpec
	for _, topic := range topics {
		specs = append(specs, kafka.TopicSpec{Name: topic, Partitions: partitions},
			kafka.TopicSpec{Name: bus.DLQTopic(topic), Partitions: partitions})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := tr.EnsureTopics(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	return tr
}

func newClient(t testing.TB, tr bus.Transport) *bus.Client {
	t.Helper()
	c, err := bus.New(tr, bus.WithLogger(testLogger()), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawClient is a plain franz-go client on brokers.
func rawClient(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func leadPayload(tenant string, n int) []byte {
	return fmt.Appendf(nil, `{"lead_id":%q,"tenant_id":%q,"name":"Lead %d","email":"lead%d@example.com",`+
		`"source":"marketing","created_at":"2025-10-24T14:00:00Z"}`, uuid.NewString(), tenant, n, n)
}

// leads returns n lead.created events spread round-robin over tenants.
func leads(tenants []string, n int) []bus.Outgoing {
	out := make([]bus.Outgoing, n)
	for i := range out {
		out[i] = bus.Outgoing{Event: "lead.created", Payload: leadPayload(tenants[i%len(tenants)], i)}
	}
	return out
}

func tenants(n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = uuid.NewString()
	}
	return ts
}

// subscription runs Subscribe in the background until the returned stop is
// called; stop returns Subscribe's error.
func subscribe(t testing.TB, c *bus.Client, sub bus.Subscription, h bus.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Subscribe(ctx, sub, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(60 * time.Second):
				err = fmt.Errorf("Subscribe did not return within 60s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
