package dedup_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/schema"
)

// calls counts, per event_id, the handler's runs and its successes.
type calls struct {
	mu        sync.Mutex
	runs, oks map[string]int
}

func newCalls() *calls { return &calls{runs: map[string]int{}, oks: map[string]int{}} }

func (c *calls) record(id string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[id]++
	if ok {
		c.oks[id]++
	}
}

func (c *calls) get(id string) (runs, oks int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[id], c.oks[id]
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// subscribe runs Subscribe until the test ends.
func subscribe(t testing.TB, c *bus.Client, sub bus.Subscription, h bus.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(ctx, sub, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe = %v", err)
		}
	})
}

// TestMiddlewareOverBus runs the middleware in a real bus.Client over the
// in-memory transport: the same event_id published again — a producer's
// retry, a replay — is handled once; a failed attempt is not remembered.
func TestMiddlewareOverBus(t *testing.T) {
	fx := bustest.LoadFixtures(t)
	v, err := schema.NewValidator(fx.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	const name = "lead.created"
	errOnce := errors.New("transient")
	tests := []struct {
		name      string
		fail      error // the handler's first attempt returns it
		publishes int   // of the same event_id, one after the other
		wantRuns  int
		wantStats dedup.Stats
		wantDLQ   int
	}{
		{"published twice, handled once", nil, 2, 1, dedup.Stats{Handled: 1, Duplicates: 1}, 0},
		{"published three times, handled once", nil, 3, 1, dedup.Stats{Handled: 1, Duplicates: 2}, 0},
		{"failure, redelivery, then a duplicate", errOnce, 2, 2, dedup.Stats{Failed: 1, Handled: 1, Duplicates: 1}, 0},
		// A permanent failure dead-letters the event; its replay (the same
		// event_id again) runs the handler again.
		{"dead-lettered, replayed, then a duplicate", bus.Permanent(errOnce), 3, 2, dedup.Stats{Failed: 1, Handled: 1, Duplicates: 1}, 1},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					e := st.make(t)
					mem := bustest.NewMemory()
					c, err := bus.New(mem, bus.WithValidator(v), bus.WithLogger(bustest.TestLogger(t)), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
					if err != nil {
						t.Fatal(err)
					}
					var counters dedup.Counters
					seen := newCalls()
					h := dedup.Middleware(e.store, e.group, dedup.WithCounters(&counters), dedup.WithLogger(bustest.TestLogger(t)))(
						func(_ context.Context, m *bus.Message) error {
							if runs, _ := seen.get(m.Header.EventID); runs == 0 && tc.fail != nil {
								seen.record(m.Header.EventID, false)
								return tc.fail
							}
							seen.record(m.Header.EventID, true)
							return nil
						})
					subscribe(t, c, bus.Subscription{Group: e.group, Topics: []string{fx.Topic(t, name)},
						FromBeginning: true, RedeliveryDelay: 10 * time.Millisecond}, h)

					dlq := func() int { return len(mem.Records(bus.DLQTopic(fx.Topic(t, name)))) }
					o := fx.Event(t, name, bustest.Tenants(1)[0])
					for i := range tc.publishes {
						if _, err := c.Publish(context.Background(), o); err != nil {
							t.Fatal(err)
						}
						// One at a time: each publish is handled (or skipped)
						// before the next, as a later redelivery would be.
						waitFor(t, "the event to be handled, skipped or dead-lettered", func() bool {
							s := counters.Stats()
							return s.Handled+s.Duplicates+uint64(dlq()) == uint64(i+1)
						})
					}
					runs, oks := seen.get(o.EventID)
					if runs != tc.wantRuns || oks != 1 {
						t.Errorf("handler ran %d times, succeeded %d; want %d and 1", runs, oks, tc.wantRuns)
					}
					if got := counters.Stats(); got != tc.wantStats {
						t.Errorf("Stats = %+v, want %+v", got, tc.wantStats)
					}
					if n := dlq(); n != tc.wantDLQ {
						t.Errorf("%d dead letters, want %d", n, tc.wantDLQ)
					}
				})
			}
		})
	}
}
