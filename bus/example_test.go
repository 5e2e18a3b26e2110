package bus_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/payload/crm"
	"github.com/inopsio/spine/pii"
)

// Publish a typed payload and consume it. The in-memory transport stands in
// for kafka.New or redisstream.New, which a service would use.
func Example() {
	transport := bustest.NewMemory()
	defer transport.Close()
	// PII fields (the lead's name and email) are encrypted before they
	// leave the client, under the tenant's data key; the keyring keeps its
	// keys in the data dir (Vault Transit and PostgreSQL in production).
	dataDir, err := os.MkdirTemp("", "spine-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dataDir)
	ring, err := keys.Open(context.Background(), keys.Config{DataDir: dataDir})
	if err != nil {
		panic(err)
	}
	defer ring.Close()
	cipher, err := pii.New(catalog.MustDefault(), ring)
	if err != nil {
		panic(err)
	}
	client, err := bus.New(transport, bus.WithSource("crm-service"), bus.WithPII(cipher))
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

	// A consumer is a client of its own service, which the catalog must
	// list among the event's consumers. Handlers see decoded, validated,
	// decrypted events; ctx carries tenant and trace.
	consumer, err := bus.New(transport, bus.WithSource("analytics-service"), bus.WithPII(cipher))
	if err != nil {
		panic(err)
	}
	sub := bus.Subscription{Group: "analytics", Topics: []string{"lead.created"}, FromBeginning: true}
	err = consumer.Subscribe(ctx, sub, func(ctx context.Context, m *bus.Message) error {
		fmt.Println(m.Header.EventName, "for tenant", bus.TenantFrom(ctx), "encrypted:", m.Encrypted)
		cancel() // one event is enough for the example
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// invalid event rejected: true
	// lead.created for tenant 7c9e6679-7425-40de-944b-e07fc1f90ae7 encrypted: true
}
