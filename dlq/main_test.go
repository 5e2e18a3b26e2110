package dlq_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/broker"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dlq"
	"github.com/inopsio/spine/internal/kafkatest"
	"github.com/inopsio/spine/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// env is one test's Kafka (embedded or Apache, namespaced), a bus client on
// it, a Manager with a fake clock, and an audit trail.
type env struct {
	tr     *kafka.Transport
	client *bus.Client
	fx     *bustest.Fixtures
	clock  *fakeClock
	m      *dlq.Manager
	audit  audit.Store
}

// topics are the catalog topics the tests use.
var topics = []string{"lead.created", "deal.stage.changed"}

type backend struct {
	name string
	env  func(t *testing.T) *env
}

func backends() []backend {
	return []backend{
		{"embedded+sqlite", func(t *testing.T) *env {
			b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			s, err := audit.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return newEnv(t, kafka.Config{Brokers: []string{b.Addr()}}, s)
		}},
		{"kafka+postgres", func(t *testing.T) *env {
			addr := bustest.Service(t, "SPINE_TEST_KAFKA")
			pg := bustest.Service(t, "SPINE_TEST_POSTGRES")
			ns := kafkatest.Namespace(t, []string{addr}, "t-")
			table := pgtest.Table(t, pg, "dlq_test_audit_")
			s, err := audit.OpenPostgres(context.Background(), pg, table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			e := newEnv(t, kafka.Config{Brokers: []string{addr}, Namespace: ns}, s)
			var specs []kafka.TopicSpec
			for _, tp := range topics {
				specs = append(specs, kafka.TopicSpec{Name: tp, Partitions: 3}, kafka.TopicSpec{Name: bus.DLQTopic(tp), Partitions: 3})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e.tr.EnsureTopics(ctx, specs...); err != nil {
				t.Fatal(err)
			}
			return e
		}},
	}
}

func newEnv(t *testing.T, cfg kafka.Config, s audit.Store) *env {
	cfg.Logger = quiet
	cfg.FetchMaxWait = 100 * time.Millisecond
	tr, err := kafka.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	client, err := bus.New(tr, bus.WithLogger(quiet), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	m, err := dlq.New(tr, tr, dlq.WithClock(clock), dlq.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &env{tr: tr, client: client, fx: bustest.LoadFixtures(t), clock: clock, m: m, audit: s}
}

// fakeClock never sleeps: Sleep moves its time forward and records how long.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return ctx.Err()
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumer runs a subscription until the test ends.
func consume(t *testing.T, c *bus.Client, sub bus.Subscription, h bus.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(ctx, sub, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("subscribe: %v", err)
		}
	})
}
