package dedup_test

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/dedup/pginbox"
	"github.com/inopsio/spine/schema"
)

// BenchmarkConsume measures the consume path — bus.Client decoding and
// validating each event over the in-memory transport — with deduplication
// off and with each store, as events/s and as a fraction of "off" (x-off,
// reported when the "off" case ran first in the same invocation). Every
// event is new: this is the cost paid on every event, not the cost of a
// duplicate.
//
//	eval "$(scripts/services.sh env)"; go test -run '^$' -bench Consume -benchtime 20000x -count 3 ./dedup/
func BenchmarkConsume(b *testing.B) {
	const (
		concurrency = bus.DefaultConcurrency
		tenants     = 64
		batch       = 100 // events per Publish call while preparing
	)
	fx := bustest.LoadFixtures(b)
	v, err := schema.NewValidator(fx.Catalog)
	if err != nil {
		b.Fatal(err)
	}
	const name = "lead.created"
	topic := fx.Topic(b, name)
	tenantIDs := bustest.Tenants(tenants)

	// Each mode wraps the counting handler for one run and returns it.
	modes := []struct {
		name string
		wrap func(b *testing.B, group string, count bus.Handler) bus.Handler
	}{
		{"off", func(_ *testing.B, _ string, count bus.Handler) bus.Handler { return count }},
		{"memory", func(_ *testing.B, group string, count bus.Handler) bus.Handler {
			return dedup.Middleware(dedup.NewMemory(dedup.DefaultTTL), group)(count)
		}},
		{"redis", func(b *testing.B, group string, count bus.Handler) bus.Handler {
			rdb := redisClient(b)
			dropGroup(b, rdb, group)
			s, err := dedup.NewRedis(rdb, dedup.DefaultTTL)
			if err != nil {
				b.Fatal(err)
			}
			return dedup.Middleware(s, group)(count)
		}},
		{"postgres", func(b *testing.B, group string, count bus.Handler) bus.Handler {
			dsn := bustest.Service(b, "SPINE_TEST_POSTGRES")
			cfg, err := pgxpool.ParseConfig(dsn)
			if err != nil {
				b.Fatal(err)
			}
			cfg.MaxConns = concurrency // one connection per running handler
			pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				_, _ = pool.Exec(context.Background(), `DELETE FROM spine_inbox WHERE consumer_group = $1`, group)
				pool.Close()
			})
			if err := pginbox.Migrate(context.Background(), pool); err != nil {
				b.Fatal(err)
			}
			return pginbox.Handler(pool, group, func(ctx context.Context, _ pgx.Tx, m *bus.Message) error {
				return count(ctx, m)
			})
		}},
	}

	var offRate float64
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			mem := bustest.NewMemory()
			c, err := bus.New(mem, bus.WithValidator(v), bus.WithLogger(slog.New(slog.DiscardHandler)), bus.WithPlaintextPII())
			if err != nil {
				b.Fatal(err)
			}
			events := make([]bus.Outgoing, 0, batch)
			for i := range b.N {
				events = append(events, fx.Event(b, name, tenantIDs[i%tenants]))
				if len(events) == batch || i == b.N-1 {
					if _, err := c.Publish(context.Background(), events...); err != nil {
						b.Fatal(err)
					}
					events = events[:0]
				}
			}
			var handled atomic.Int64
			all := make(chan struct{})
			count := func(context.Context, *bus.Message) error {
				if handled.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			}
			h := mode.wrap(b, uniqueGroup(), count)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() {
				done <- c.Subscribe(ctx, bus.Subscription{Group: uniqueGroup(), Topics: []string{topic},
					FromBeginning: true, Concurrency: concurrency}, h)
			}()
			select {
			case <-all:
			case <-time.After(5 * time.Minute):
				b.Fatalf("handled %d of %d events in 5 minutes", handled.Load(), b.N)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}

			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "events/s")
			if mode.name == "off" {
				offRate = rate
			} else if offRate > 0 {
				b.ReportMetric(rate/offRate, "x-off")
			}
		})
	}
}

// BenchmarkStore measures one claim as the middleware makes it — Begin, then
// Done — on each store, from parallel goroutines, without the bus.
func BenchmarkStore(b *testing.B) {
	stores := []struct {
		name string
		make func(b *testing.B) (dedup.Store, string)
	}{
		{"memory", func(*testing.B) (dedup.Store, string) { return dedup.NewMemory(dedup.DefaultTTL), "g" }},
		{"redis", func(b *testing.B) (dedup.Store, string) {
			rdb := redisClient(b)
			group := uniqueGroup()
			dropGroup(b, rdb, group)
			s, err := dedup.NewRedis(rdb, dedup.DefaultTTL)
			if err != nil {
				b.Fatal(err)
			}
			return s, group
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s, group := st.make(b)
			var seq atomic.Int64
			ctx := context.Background()
			b.SetParallelism(bus.DefaultConcurrency / max(1, runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := s.Begin(ctx, group, strconv.FormatInt(seq.Add(1), 10))
					if err != nil || c.Status != dedup.Claimed {
						b.Errorf("Begin = %v, %v", c.Status, err)
						return
					}
					if err := c.Token.Done(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
