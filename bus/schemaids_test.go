package bus_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/registry"
)

// Against a Confluent registry the wire carries the registry's ids: the
// producer looks its schema up, the consumer maps the id back to the
// catalog version, both through the cache after the first time.
func TestRegistrySchemaIDs(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	reg, err := registry.NewConfluent(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.MustDefault()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	regs, err := registry.RegisterCatalog(ctx, reg, cat)
	if err != nil {
		t.Fatal(err)
	}
	wantID := 0
	for _, r := range regs {
		if r.Event == "lead.created" {
			wantID = r.ID
		}
	}
	ids, err := bus.NewRegistryIDs(reg, cat)
	if err != nil {
		t.Fatal(err)
	}
	mem := bustest.NewMemory()
	client, err := bus.New(mem, bus.WithSchemaIDs(ids), bus.WithPII(bustest.NewPIICipher(t, cat)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Publish(ctx, bus.Outgoing{Event: "lead.created", Payload: leadPayload(t)})
	if err != nil {
		t.Fatal(err)
	}
	recs := mem.Records("lead.created")
	if got := int(binary.BigEndian.Uint32(recs[len(recs)-1].Value[1:5])); got != wantID || out[0].SchemaID != wantID {
		t.Fatalf("schema id on the wire %d (reported %d), want the registry's %d", got, out[0].SchemaID, wantID)
	}
	var seen *bus.Message
	_ = client.Subscribe(ctx, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true},
		func(ctx context.Context, m *bus.Message) error {
			seen = m
			cancel()
			return nil
		})
	if seen == nil || seen.SchemaID != wantID || seen.Header.EventID != out[0].Header.EventID {
		t.Fatalf("consumed %+v, want event %s with schema id %d", seen, out[0].Header.EventID, wantID)
	}

	// An id the registry does not have is a dead letter, not a crash.
	v, err := ids.SchemaVersion(context.Background(), 987654)
	if err == nil {
		t.Fatalf("unknown id resolved to %v", v)
	}
}
