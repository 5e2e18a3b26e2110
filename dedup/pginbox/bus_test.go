package pginbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/dedup/pginbox"
)

// TestHandlerOverBus runs the inbox in a real bus.Client over the in-memory
// transport: the same event_id published again is handled once; a failed
// attempt leaves nothing behind and runs again.
func TestHandlerOverBus(t *testing.T) {
	fx := bustest.LoadFixtures(t)
	const name = "lead.created"
	tests := []struct {
		name      string
		failFirst bool
		publishes int
		wantRuns  int
		wantStats dedup.Stats
	}{
		{"published twice, handled once", false, 2, 1, dedup.Stats{Handled: 1, Duplicates: 1}},
		{"failure, redelivery, then a duplicate", true, 2, 2, dedup.Stats{Failed: 1, Handled: 1, Duplicates: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c, err := bus.New(bustest.NewMemory(), bus.WithLogger(bustest.TestLogger(t)), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
			if err != nil {
				t.Fatal(err)
			}
			var counters dedup.Counters
			var mu sync.Mutex
			runs := 0
			h := pginbox.Handler(e.pool, e.group, func(ctx context.Context, tx pgx.Tx, m *bus.Message) error {
				mu.Lock()
				runs++
				first := runs == 1
				mu.Unlock()
				if err := e.sideEffect(ctx, tx, m); err != nil {
					return err
				}
				if first && tc.failFirst {
					return errors.New("transient")
				}
				return nil
			}, pginbox.WithCounters(&counters), pginbox.WithLogger(bustest.TestLogger(t)))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- c.Subscribe(ctx, bus.Subscription{Group: e.group, Topics: []string{fx.Topic(t, name)},
					FromBeginning: true, RedeliveryDelay: 10 * time.Millisecond}, h)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Subscribe = %v", err)
				}
			}()

			o := fx.Event(t, name, bustest.Tenants(1)[0])
			for i := range tc.publishes {
				if _, err := c.Publish(context.Background(), o); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the event to be handled or skipped", func() bool {
					s := counters.Stats()
					return s.Handled+s.Duplicates == uint64(i+1)
				})
			}
			mu.Lock()
			defer mu.Unlock()
			if runs != tc.wantRuns {
				t.Errorf("handler ran %d times, want %d", runs, tc.wantRuns)
			}
			if got := counters.Stats(); got != tc.wantStats {
				t.Errorf("Stats = %+v, want %+v", got, tc.wantStats)
			}
			if inbox, effects := e.rows(t, o.EventID); inbox != 1 || effects != 1 {
				t.Errorf("%d inbox rows and %d side effects, want 1 of each", inbox, effects)
			}
		})
	}
}
