package kafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
)

// The spec's schedule, unscaled (§8: 0.5 s, 2 s, 8 s, 32 s), on the embedded
// broker: an event whose handler always fails is retried after each delay,
// no sooner, then dead-lettered. It takes about 43 seconds.
func TestRealRetrySchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("the real schedule takes 43 s; the conformance case RetrySchedule runs it scaled on every backend")
	}
	want := catalog.MustDefault().Events()[0].Retry.Delays
	if len(want) != 4 || want[0] != 500*time.Millisecond || want[3] != 32*time.Second {
		t.Fatalf("catalog schedule is %v, want the spec's 0.5s 2s 8s 32s", want)
	}
	brokers := backends[0].brokers(t) // embedded
	tr := newTransport(t, brokers, 1, "lead.created")
	c := newClient(t, tr) // the catalog's own schedule
	tenant := uuid.NewString()
	out, err := c.Publish(t.Context(), leads([]string{tenant}, 1)...)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	stop := subscribe(t, c, bus.Subscription{Group: "real-schedule", Topics: []string{"lead.created"}, FromBeginning: true},
		func(context.Context, *bus.Message) error {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			return errors.New("downstream unavailable")
		})
	var letter *bus.Delivery
	waitFor(t, "the dead letter", 90*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_ = tr.Read(ctx, kafka.ReadOptions{Topics: []string{bus.DLQTopic("lead.created")}, FromBeginning: true, UntilEnd: true}, func(_ context.Context, d *bus.Delivery) error {
			letter = d
			return nil
		})
		return letter != nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 5 {
		t.Fatalf("%d attempts, want 5", len(attempts))
	}
	for i, d := range want {
		gap := attempts[i+1].Sub(attempts[i])
		if gap < d {
			t.Errorf("retry %d after %s, sooner than %s", i+1, gap, d)
		}
		t.Logf("retry %d after %s (scheduled %s)", i+1, gap.Round(time.Millisecond), d)
	}
	if id, _ := letter.Record.Header("event_id"); string(id) != out[0].Header.EventID {
		t.Errorf("dead letter is %s, want %s", id, out[0].Header.EventID)
	}
	if n, _ := letter.Record.Header(codec.HeaderAttempt); string(n) != "5" {
		t.Errorf("%s = %q, want 5", codec.HeaderAttempt, n)
	}
}
