package bustest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// retryDelays is the spec's schedule (0.5 s, 2 s, 8 s, 32 s) scaled down,
// keeping its ratios, so the case runs in seconds.
var retryDelays = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}

// caseRetrySchedule: an event whose handler always fails is attempted once
// and retried once after each delay of the schedule — no sooner — then
// dead-lettered with its attempt count; the other tenants' events are all
// handled.
func caseRetrySchedule(e *env) {
	t := e.t
	const name = "lead.created"
	topics := e.prepare(name)
	tr := e.transport()
	c := e.client(tr, bus.WithRetryDelays(retryDelays...))
	tenants := Tenants(5)
	poisonTenant := tenants[0]
	poison := e.fx.Event(t, name, poisonTenant)
	var healthy []bus.Outgoing
	for _, tn := range tenants[1:] {
		for range 4 {
			healthy = append(healthy, e.fx.Event(t, name, tn))
		}
	}

	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	handled := newTracker()
	group := e.group("retry")
	s := e.subscribe(c, bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 4},
		func(ctx context.Context, m *bus.Message) error {
			if m.Header.EventID == poison.EventID {
				mu.Lock()
				attempts = append(attempts, time.Now())
				mu.Unlock()
				return errTransient
			}
			handled.record(m, true, false)
			return nil
		})
	e.publish(c, append([]bus.Outgoing{poison}, healthy...))
	handled.waitAll(t, ids(healthy), waitTimeout)

	letter := readOne(e, tr, bus.DLQTopic(topics[0]), group)
	s.stop(t)

	mu.Lock()
	defer mu.Unlock()
	if want := len(retryDelays) + 1; len(attempts) != want {
		t.Fatalf("the failing event was attempted %d times, want %d (1 + %d retries)", len(attempts), want, len(retryDelays))
	}
	for i, d := range retryDelays {
		if gap := attempts[i+1].Sub(attempts[i]); gap < d {
			t.Errorf("retry %d came after %s, sooner than its delay %s", i+1, gap, d)
		} else {
			t.Logf("retry %d after %s (scheduled %s)", i+1, gap.Round(time.Millisecond), d)
		}
	}
	if id, _ := letter.Record.Header("event_id"); string(id) != poison.EventID {
		t.Fatalf("dead letter is event %s, want %s", id, poison.EventID)
	}
	if n, _ := letter.Record.Header(codec.HeaderAttempt); string(n) != "5" {
		t.Errorf("dead letter %s = %q, want 5", codec.HeaderAttempt, n)
	}
	if msg, _ := letter.Record.Header(codec.HeaderErrorMessage); !strings.Contains(string(msg), "gave up after 5 attempts") {
		t.Errorf("dead letter error = %q", msg)
	}
	// Where retries were parked on retry topics, the letter still names the
	// event's own topic and keeps its first failure.
	if v, _ := letter.Record.Header(codec.HeaderOriginalTopic); string(v) != topics[0] {
		t.Errorf("dead letter %s = %q, want %q", codec.HeaderOriginalTopic, v, topics[0])
	}
	first, _ := letter.Record.Header(codec.HeaderFirstFailure)
	last, _ := letter.Record.Header(codec.HeaderLastFailure)
	if string(first) >= string(last) {
		t.Errorf("dead letter first failure %s is not before its last %s", first, last)
	}
}

// readOne consumes topic until one record arrives and returns it.
func readOne(e *env, tr bus.Transport, topic, group string) *bus.Delivery {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	got := make(chan *bus.Delivery, 1)
	done := make(chan error, 1)
	go func() {
		done <- tr.Consume(ctx, bus.Subscription{Group: group + "-dlq", Topics: []string{topic}, FromBeginning: true},
			func(_ context.Context, d *bus.Delivery) error {
				select {
				case got <- d:
				default:
				}
				return nil
			})
	}()
	select {
	case d := <-got:
		cancel()
		<-done
		return d
	case <-ctx.Done():
		<-done
		e.t.Fatalf("nothing arrived on %s within %s", topic, waitTimeout)
		return nil
	}
}
