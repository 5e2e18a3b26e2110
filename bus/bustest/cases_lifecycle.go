package bustest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// caseCloseReopen: a subscriber that is closed part-way and reopened in the
// same group (on a new transport, as after a service restart) loses nothing,
// also of what was published while it was closed. With Concurrency 1 every
// handled record precedes every unhandled one in its partition, so "commits
// what they completed" means nothing handled before the close comes again.
func caseCloseReopen(e *env) {
	t := e.t
	const event = "order.received"
	topics := e.prepare(event)
	group := e.group("reopen")
	sub := bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 1}
	tenants := Tenants(Scale(20, 8))
	first, order := e.orderedStreams(event, tenants, Scale(20, 10))

	tr1 := e.transport()
	c1 := e.client(tr1)
	e.publish(c1, first)
	session1 := newTracker()
	s1 := e.subscribe(c1, sub, func(ctx context.Context, m *bus.Message) error {
		time.Sleep(2 * time.Millisecond)
		session1.record(m, true, false)
		return nil
	})
	if !session1.waitFor(context.Background(), waitTimeout, func() bool { return session1.handled() >= len(first)/3 }) {
		t.Fatalf("only %d of %d events handled before the close", session1.handled(), len(first))
	}
	s1.stop(t)
	handled1 := session1.handled()

	second, order2 := e.orderedStreams(event, tenants, Scale(10, 5))
	for k, v := range order2 {
		order[k] = append(order[k], v...)
	}
	e.publish(c1, second)
	if err := tr1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	c2 := e.client(e.transport())
	session2 := newTracker()
	s2 := e.subscribe(c2, sub, func(ctx context.Context, m *bus.Message) error {
		session2.record(m, true, false)
		return nil
	})
	all := append(ids(first), ids(second)...)
	var missing []string
	ok := session2.waitFor(context.Background(), waitTimeout, func() bool {
		missing = missing[:0]
		for _, id := range all {
			if session1.count(id) == 0 && session2.count(id) == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	s2.stop(t)
	if !ok {
		t.Fatalf("%d of %d events never handled across the close and reopen", len(missing), len(all))
	}
	dups := 0
	for _, c := range session2.snapshot() {
		if session1.count(c.id) > 0 {
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("%d of the %d events completed before the close were handled again after the reopen: "+
			"Consume did not commit what its handlers completed before returning", dups, handled1)
	}
	checkOrder(t, append(session1.snapshot(), session2.snapshot()...), order, true)
	t.Logf("session 1 handled %d of %d, session 2 the rest (%d published while closed)", handled1, len(first), len(second))
}

// caseConcurrentClose: cancelling while handlers are mid-flight returns
// promptly; every handler that started finished before Consume returned; no
// goroutine is left behind once the transport is closed; the next consumer
// of the group gets everything not handled (at-least-once allows it
// redeliveries, which are counted, not failed).
func caseConcurrentClose(e *env) {
	t := e.t
	const event = "payment.processed"
	topics := e.prepare(event)
	group := e.group("close")
	sub := bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 8}
	out, _ := e.orderedStreams(event, Tenants(Scale(32, 16)), Scale(8, 4))

	leaks := goleak.IgnoreCurrent()
	tr1 := e.transport()
	c1 := e.client(tr1)
	e.publish(c1, out)
	var started, finished, afterCancel atomic.Int64
	var cancelled atomic.Bool
	first := newTracker()
	s1 := e.subscribe(c1, sub, func(ctx context.Context, m *bus.Message) error {
		if cancelled.Load() {
			afterCancel.Add(1)
		}
		started.Add(1)
		defer finished.Add(1)
		time.Sleep(150 * time.Millisecond) // mid-flight when the cancel comes
		first.record(m, true, false)
		return nil
	})
	if !first.waitFor(context.Background(), waitTimeout, func() bool { return started.Load() >= 8 && first.handled() >= 1 }) {
		t.Fatalf("handlers never got going: %d started", started.Load())
	}
	midFlight := started.Load() - finished.Load()
	cancelled.Store(true)
	s1.stop(t)
	// A handler being dispatched as the cancel lands may still start: at
	// most one per worker. More means Consume went on starting queued
	// records after its context ended, so shutdown waits for the queue.
	if n := afterCancel.Load(); n > int64(sub.Concurrency) {
		t.Errorf("%d handlers started after Subscribe's context was cancelled (Concurrency %d): "+
			"Consume must stop handing out records when its context ends and only let the in-flight ones finish", n, sub.Concurrency)
	}
	if s, f := started.Load(), finished.Load(); s != f {
		t.Errorf("Subscribe returned while %d of %d started handlers were still running", s-f, s)
	}
	time.Sleep(200 * time.Millisecond)
	if s := started.Load(); s != finished.Load() {
		t.Errorf("a handler started after Subscribe returned (%d started, %d finished)", s, finished.Load())
	}
	if err := tr1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := goleak.Find(leaks); err != nil {
		t.Errorf("goroutines left after Subscribe returned and the transport closed: %v", err)
	}

	c2 := e.client(e.transport())
	second := newTracker()
	s2 := e.subscribe(c2, sub, func(ctx context.Context, m *bus.Message) error {
		second.record(m, true, false)
		return nil
	})
	var missing int
	ok := second.waitFor(context.Background(), waitTimeout, func() bool {
		missing = 0
		for _, id := range ids(out) {
			if first.count(id) == 0 && second.count(id) == 0 {
				missing++
			}
		}
		return missing == 0
	})
	s2.stop(t)
	if !ok {
		t.Fatalf("%d of %d events lost across the close", missing, len(out))
	}
	dups := 0
	for _, c := range second.snapshot() {
		if first.count(c.id) > 0 {
			dups++
		}
	}
	t.Logf("%d handlers were mid-flight at the cancel; first consumer handled %d, %d of them redelivered to the second",
		midFlight, first.handled(), dups)
}

// caseGroupShares: two subscribers in one group (two transports, as two
// service instances) split the work: together they handle everything, and
// each handles some.
func caseGroupShares(e *env) {
	t := e.t
	const event = "invoice.generated"
	topics := e.prepare(event)
	group := e.group("share")
	sub := bus.Subscription{Group: group, Topics: topics, FromBeginning: true, Concurrency: 4}
	tr := newTracker()
	var members [2]atomic.Int64
	var clients []*bus.Client
	for i := range members {
		c := e.client(e.transport())
		clients = append(clients, c)
		e.subscribe(c, sub, func(ctx context.Context, m *bus.Message) error {
			time.Sleep(time.Millisecond)
			members[i].Add(1)
			tr.record(m, true, false)
			return nil
		})
	}
	var all []string
	tenants := Tenants(24) // enough keys to land on every partition
	rounds := 0
	for ; rounds < 40; rounds++ {
		out, _ := e.orderedStreams(event, tenants, 1)
		e.publish(clients[rounds%2], out)
		all = append(all, ids(out)...)
		tr.waitAll(t, all, waitTimeout)
		if rounds >= 2 && members[0].Load() > 0 && members[1].Load() > 0 {
			break
		}
		time.Sleep(250 * time.Millisecond) // let the second member's join settle
	}
	a, b := members[0].Load(), members[1].Load()
	if a == 0 || b == 0 {
		t.Errorf("after %d rounds one member did all the work: %d and %d events", rounds+1, a, b)
	}
	t.Logf("%d events in %d rounds: member A handled %d, member B %d", len(all), rounds+1, a, b)
}

// caseContextCancel: a cancelled or expired context fails Publish and Send
// with the context's error; Subscribe returns nil promptly when its context
// ends, idle or from the start.
func caseContextCancel(e *env) {
	t := e.t
	const event = "user.invited"
	topics := e.prepare(event)
	tr := e.transport()
	c := e.client(tr)
	o := e.fx.Event(t, event, Tenants(1)[0])

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Publish(cancelled, o); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v, want context.Canceled", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := c.Publish(expired, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish with an expired context = %v, want context.DeadlineExceeded", err)
	}
	raw := codec.Record{Topic: "bustest.cancelled", Key: []byte("k"), Value: []byte("never sent")}
	if err := tr.Send(cancelled, raw); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}

	sub := bus.Subscription{Group: e.group("cancel"), Topics: topics, FromBeginning: true}
	never := func(ctx context.Context, m *bus.Message) error {
		t.Errorf("handler called for %s: nothing was published", m.Header.EventID)
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(cancelled, sub, never) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Subscribe with a cancelled context = %v, want nil", err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("Subscribe with a cancelled context did not return within %v", stopTimeout)
	}

	var wg sync.WaitGroup
	for _, wait := range []time.Duration{0, 10 * time.Millisecond, 500 * time.Millisecond} {
		wg.Go(func() {
			s := e.subscribe(c, sub, never)
			time.Sleep(wait)
			s.stop(t)
		})
	}
	wg.Wait()
}

// caseStartsAtEnd: a new group without FromBeginning starts at the end:
// nothing published before Subscribe was called is handled, what comes
// after is.
func caseStartsAtEnd(e *env) {
	t := e.t
	const event = "alert.acknowledged"
	topics := e.prepare(event)
	c := e.client(e.transport())
	tenants := Tenants(6)
	old, _ := e.orderedStreams(event, tenants, 3)
	e.publish(c, old)
	tr := newTracker()
	e.subscribe(c, bus.Subscription{Group: e.group("end"), Topics: topics}, func(ctx context.Context, m *bus.Message) error {
		tr.record(m, true, false)
		return nil
	})
	// The group's start position is fixed per partition as it is assigned,
	// which the Subscription cannot report: publish one event per tenant
	// until a whole round arrives, so every partition these tenants use has
	// its position (one arrival would prove it for one partition only).
	for round := 0; ; round++ {
		out, _ := e.orderedStreams(event, tenants, 1)
		e.publish(c, out)
		if tr.waitFor(context.Background(), 500*time.Millisecond, func() bool { return len(tr.missing(ids(out))) == 0 }) {
			break
		}
		if round == 120 {
			t.Fatal("a subscription that starts at the end never received anything published after it started")
		}
	}
	// Every partition has its position: all that follows arrives.
	after, _ := e.orderedStreams(event, tenants, 2)
	e.publish(c, after)
	tr.waitAll(t, ids(after), waitTimeout)
	if n := len(old) - len(tr.missing(ids(old))); n > 0 {
		t.Errorf("%d of the %d events published before Subscribe were handled by a new group without FromBeginning", n, len(old))
	}
}
