package bustest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// parkDelay is a retry delay no test outlives: while the poison waits it
// out, only what does not wait for it can be handled.
const parkDelay = time.Hour

// caseNonBlockingRetry: a non-blocking event whose handler fails waits out
// its retry delay without holding anyone else: the events published after
// it by other tenants are all handled meanwhile (with the delay at an hour,
// a transport that held the partition would never get to them). Where the
// transport parks retries (Kafka, Redis), later events of the poison's own
// tenant go ahead too, and the parked copy on "<topic>.retry-1" carries the
// original position, the group, the attempt and the due time.
func caseNonBlockingRetry(e *env) {
	t := e.t
	if e.b.inProcess {
		t.Skip("the memory double waits out a retry on its worker, holding the keys that share the worker")
	}
	const name = "lead.created" // non-blocking in the catalog
	topics := e.prepare(name)
	tr := e.transport()
	c := e.client(tr, bus.WithRetryDelays(parkDelay))
	_, parks := tr.(bus.RetryParker)
	poison, later, others := e.behindOne(name)
	var (
		mu       sync.Mutex
		attempts int
	)
	handled := newTracker()
	group := e.group("nonblocking")
	s := e.subscribe(c, bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 4},
		func(ctx context.Context, m *bus.Message) error {
			if m.Header.EventID == poison.EventID {
				mu.Lock()
				attempts++
				mu.Unlock()
				return errTransient
			}
			handled.record(m, true, false)
			return nil
		})
	start := time.Now()
	e.publish(c, append([]bus.Outgoing{poison}, append(later, others...)...))
	want := ids(others)
	if parks {
		want = append(want, ids(later)...)
	}
	handled.waitAll(t, want, waitTimeout)
	t.Logf("%d events published after the poison handled within %s while it waits %s for its retry",
		len(want), time.Since(start).Round(time.Millisecond), parkDelay)
	if !parks {
		s.stop(t)
		return
	}
	parked := readOne(e, tr, bus.RetryTopic(topics[0], 1), group)
	s.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if attempts != 1 {
		t.Errorf("the poison was attempted %d times, want 1 (its retry is an hour away)", attempts)
	}
	if id, _ := parked.Record.Header("event_id"); string(id) != poison.EventID {
		t.Fatalf("parked record is event %s, want %s", id, poison.EventID)
	}
	for k, want := range map[string]string{
		codec.HeaderOriginalTopic: topics[0], codec.HeaderConsumerGroup: group, codec.HeaderAttempt: "1",
		codec.HeaderErrorKind: bus.KindHandler,
	} {
		if v, _ := parked.Record.Header(k); string(v) != want {
			t.Errorf("parked %s = %q, want %q", k, v, want)
		}
	}
	must := []string{codec.HeaderOriginalOffset, codec.HeaderDueAt, codec.HeaderFirstFailure, codec.HeaderTraceparent}
	if parked.Offset >= 0 { // a transport with partitions; a stream (Redis) has none
		must = append(must, codec.HeaderOriginalPartition)
	}
	for _, k := range must {
		if _, ok := parked.Record.Header(k); !ok {
			t.Errorf("parked record lacks %s", k)
		}
	}
}

// behindOne returns events of name to publish in this order: one event of
// a tenant, three later events of the same tenant, and five events of each
// of five other tenants.
func (e *env) behindOne(name string) (one bus.Outgoing, later, others []bus.Outgoing) {
	tenants := Tenants(6)
	one = e.fx.Event(e.t, name, tenants[0])
	for range 3 {
		later = append(later, e.fx.Event(e.t, name, tenants[0]))
	}
	for _, tn := range tenants[1:] {
		for range 5 {
			others = append(others, e.fx.Event(e.t, name, tn))
		}
	}
	return one, later, others
}

// caseStrictHold: a strict event whose handler fails holds only its own
// key: the events of other tenants published after it are all handled
// before its retry, and the later events of its key are handled only after
// it succeeded, in order.
func caseStrictHold(e *env) {
	t := e.t
	if e.b.inProcess {
		t.Skip("the memory double waits out a retry on its worker, holding the keys that share the worker")
	}
	const name = "deal.stage.changed" // strict in the catalog
	const delay = 5 * time.Second     // far longer than handling the others takes
	topics := e.prepare(name)
	tr := e.transport()
	c := e.client(tr, bus.WithRetryDelays(delay))
	first, later, others := e.behindOne(name)
	var (
		mu      sync.Mutex
		retried time.Time
	)
	handled := newTracker()
	group := e.group("strict")
	s := e.subscribe(c, bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 4},
		func(ctx context.Context, m *bus.Message) error {
			if m.Header.EventID == first.EventID && m.Attempt == 1 {
				return errTransient
			}
			if m.Header.EventID == first.EventID {
				mu.Lock()
				retried = time.Now()
				mu.Unlock()
			}
			handled.record(m, true, false)
			return nil
		})
	e.publish(c, append([]bus.Outgoing{first}, append(later, others...)...))
	handled.waitAll(t, append(ids(others), append(ids(later), first.EventID)...), waitTimeout)
	s.stop(t)

	mu.Lock()
	defer mu.Unlock()
	var key []string
	calls := handled.snapshot()
	heldTenant := ""
	for _, cl := range calls {
		if cl.id == first.EventID {
			heldTenant = cl.tenant
		}
	}
	for _, cl := range calls {
		if cl.tenant == heldTenant {
			key = append(key, cl.id)
			continue
		}
		if !cl.at.Before(retried) {
			t.Errorf("event %s of tenant %s was handled after the held key's retry: it was held up", cl.id, cl.tenant)
		}
	}
	if wantKey := append([]string{first.EventID}, ids(later)...); !slices.Equal(key[:min(len(key), len(wantKey))], wantKey) {
		t.Errorf("tenant %s handled in order %v, want %v: a later event overtook the held one", heldTenant, key, wantKey)
	}
}

// caseRetryAcrossRestart: a consumer stopped while an event waits for its
// retry loses nothing: the next consumer of the group handles the event,
// as its next attempt, once it is due.
func caseRetryAcrossRestart(e *env) {
	t := e.t
	const name = "lead.created"
	topics := e.prepare(name)
	tr := e.transport()
	c := e.client(tr, bus.WithRetryDelays(time.Second))
	ev := e.fx.Event(t, name, Tenants(1)[0])
	group := e.group("restart")
	failed := make(chan struct{}, 1)
	first := e.subscribe(c, bus.Subscription{Group: group, Topics: topics, FromBeginning: true},
		func(ctx context.Context, m *bus.Message) error {
			select {
			case failed <- struct{}{}:
			default:
			}
			return errTransient
		})
	e.publish(c, []bus.Outgoing{ev})
	select {
	case <-failed:
	case <-time.After(waitTimeout):
		t.Fatal("the event never reached the first consumer")
	}
	first.stop(t) // its retry is parked, or pending, not yet due

	handled := newTracker()
	second := e.subscribe(c, bus.Subscription{Group: group, Topics: topics},
		func(ctx context.Context, m *bus.Message) error {
			handled.record(m, true, false)
			return nil
		})
	handled.waitAll(t, []string{ev.EventID}, waitTimeout)
	second.stop(t)
	// A parked retry carries its attempt; an in-place retry's count is the
	// transport's (Redis keeps it with the pending entry, a Kafka or memory
	// member in its memory).
	if _, parks := tr.(bus.RetryParker); parks {
		for _, cl := range handled.snapshot() {
			if cl.attempt < 2 {
				t.Errorf("the second consumer handled the event as attempt %d; want a retry (≥ 2)", cl.attempt)
			}
		}
	}
}
