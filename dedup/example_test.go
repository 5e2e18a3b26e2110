package dedup_test

import (
	"context"
	"fmt"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/dedup"
)

// A consumer of the embedded mode: one process, so the memory store does.
// Over Kafka or Redis with several members, use NewRedis (or, for handlers
// that write to PostgreSQL, dedup/pginbox).
func ExampleMiddleware() {
	var stats dedup.Counters
	store := dedup.NewMemory(dedup.DefaultTTL)
	handle := dedup.Middleware(store, "crm-service", dedup.WithCounters(&stats))(
		func(ctx context.Context, m *bus.Message) error {
			return nil // the service's work
		})

	m := &bus.Message{}
	m.Header.EventID = "0b4f2a8e-5d1c-4e6b-9a3f-7c2d1e0f9a8b"
	_ = handle(context.Background(), m) // handled
	_ = handle(context.Background(), m) // redelivered: skipped
	fmt.Printf("%+v\n", stats.Stats())
	// Output: {Duplicates:1 InProgress:0 Handled:1 Failed:0 StoreErrors:0}
}
