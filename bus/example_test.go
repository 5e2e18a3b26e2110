package bus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/payload/crm"
)

// Publish a typed payload and consume it. The in-memory transport stands in
// for kafka.New or redisstream.New, which a service would use.
func Example() {
	transport := bustest.NewMemory()
	defer transport.Close()
	client, err := bus.New(transport, bus.WithSource("crm-service"))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Publish fills the header, validates, encodes and sends; an invalid
	// event returns an error and sends nothing.
	_, err = bus.Publish(ctx, client, crm.LeadCreated{
		LeadID:    "3f0e2d5c-9a8b-4c7d-8e6f-5a4b3c2d1e0f",
		TenantID:  "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		Name:      "John Doe",
		Email:     "john.doe@example.com",
		Source:    "marketing",
		CreatedAt: time.Date(2025, 10, 24, 14, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	_, err = bus.Publish(ctx, client, crm.LeadCreated{LeadID: "not-a-uuid"})
	fmt.Println("invalid event rejected:", err != nil)

	// Handlers see decoded, validated events; ctx carries tenant and trace.
	sub := bus.Subscription{Group: "analytics", Topics: []string{"lead.created"}, FromBeginning: true}
	_ = client.Subscribe(ctx, sub, func(ctx context.Context, m *bus.Message) error {
		fmt.Println(m.Header.EventName, "for tenant", bus.TenantFrom(ctx))
		cancel() // one event is enough for the example
		return nil
	})
	// Output:
	// invalid event rejected: true
	// lead.created for tenant 7c9e6679-7425-40de-944b-e07fc1f90ae7
}
