package bus_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
)

func TestStatsCountLifecycle(t *testing.T) {
	mem := bustest.NewMemory()
	client, err := bus.New(mem, bus.WithRetryDelays(10*time.Millisecond), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := leadPayload(t)
	tenants := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}
	var out []bus.Outgoing
	for _, tn := range tenants {
		out = append(out, bus.Outgoing{Event: "lead.created", Payload: bytes.Replace(base, []byte("7c9e6679-7425-40de-944b-e07fc1f90ae7"), []byte(tn), 1)})
	}
	if _, err := client.Publish(ctx, out...); err != nil {
		t.Fatal(err)
	}
	if err := mem.Send(ctx, codec.Record{Topic: "lead.created", Key: []byte("x"), Value: []byte("garbage")}); err != nil {
		t.Fatal(err)
	}
	var flaky atomic.Bool
	done := atomic.Int32{}
	sub := bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true}
	// Stop once all four outcomes are in, in whatever order they came.
	go func() {
		for ctx.Err() == nil {
			if done.Load() >= 3 && client.Stats()["lead.created"].DeadLetters["decode"] == 1 {
				cancel()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_ = client.Subscribe(ctx, sub, func(ctx context.Context, m *bus.Message) error {
		switch m.Header.TenantID {
		case tenants[1]: // fails once, then succeeds
			if flaky.CompareAndSwap(false, true) {
				return errors.New("flaky")
			}
		case tenants[2]:
			done.Add(1)
			return bus.Permanent(errors.New("never"))
		}
		done.Add(1)
		return nil
	})
	got := client.Stats()["lead.created"]
	if got.Handled != 2 || got.Retries != 1 || got.DeadLetters["handler"] != 1 || got.DeadLetters["decode"] != 1 {
		t.Errorf("stats = %+v, want 2 handled, 1 retry, 1 handler and 1 decode dead letter", got)
	}
}
