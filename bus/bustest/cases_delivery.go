package bustest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// caseRoundTrip: events of every catalog type arrive with every header
// field, the payload bytes and the extra headers intact; traceparent carries
// the trace_id; the delivery fields are filled in.
func caseRoundTrip(e *env) {
	t := e.t
	events := e.fx.Events()
	topics := e.prepare(events...)
	c := e.client(e.transport())
	tenants := Tenants(5)
	perEvent := Scale(6, 2)

	var out []bus.Outgoing
	want := map[string]bus.Outgoing{}
	for i := range perEvent {
		for j, name := range events {
			o := e.fx.Event(t, name, tenants[(i+j)%len(tenants)])
			o.Headers = []codec.Header{
				{Key: "x-bustest-seq", Value: fmt.Appendf(nil, "%d/%d", i, j)},
				{Key: "x-bustest-utf8", Value: []byte("héllo ✓ 李")},
				{Key: "x-bustest-empty", Value: []byte{}},
			}
			out = append(out, o)
			want[o.EventID] = o
		}
	}
	tr := newTracker()
	s := e.subscribe(c, bus.Subscription{Group: e.group("rt"), Topics: topics, FromBeginning: true, Concurrency: 4},
		func(ctx context.Context, m *bus.Message) error {
			if h, ok := bus.HeaderFrom(ctx); !ok || !sameHeader(h, m.Header) {
				t.Errorf("%s: HeaderFrom(ctx) = %+v, %v; want the message's header", m.Header.EventID, h, ok)
			}
			if got := bus.TenantFrom(ctx); got != m.Header.TenantID {
				t.Errorf("%s: TenantFrom(ctx) = %q", m.Header.EventID, got)
			}
			tr.record(m, true, true)
			return nil
		})

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	published := map[string]bus.Published{}
	for i := 0; i < len(out); i += 50 {
		ps, err := c.Publish(ctx, out[i:min(i+50, len(out))]...)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		for _, p := range ps {
			published[p.Header.EventID] = p
		}
	}
	ids := make([]string, 0, len(out))
	for _, o := range out {
		ids = append(ids, o.EventID)
		if _, ok := published[o.EventID]; !ok {
			t.Fatalf("Publish did not report event %s", o.EventID)
		}
	}
	tr.waitAll(t, ids, waitTimeout)
	s.stop(t)

	for id, o := range want {
		m, p := tr.msgs[id], published[id]
		if !sameHeader(m.Header, p.Header) {
			t.Errorf("%s: header arrived as\n %+v\nwant\n %+v", id, m.Header, p.Header)
		}
		if !m.Header.Timestamp.Equal(p.Header.Timestamp) || m.Header.Timestamp.Location() != time.UTC {
			t.Errorf("%s: timestamp %v, want %v in UTC", id, m.Header.Timestamp, p.Header.Timestamp)
		}
		if !bytes.Equal(m.Payload, o.Payload) {
			t.Errorf("%s: payload changed:\n got %q\nwant %q", id, m.Payload, o.Payload)
		}
		if m.Topic != p.Topic || m.SchemaID != p.SchemaID {
			t.Errorf("%s: topic %q schema id %d, want %q %d", id, m.Topic, m.SchemaID, p.Topic, p.SchemaID)
		}
		for _, h := range o.Headers {
			v, ok := codec.Record{Headers: m.Headers}.Header(h.Key)
			if !ok || !bytes.Equal(v, h.Value) {
				t.Errorf("%s: extra header %s = %q (present %v), want %q", id, h.Key, v, ok, h.Value)
			}
		}
		tp, ok := codec.Record{Headers: m.Headers}.Header(codec.HeaderTraceparent)
		if parts := strings.Split(string(tp), "-"); !ok || len(parts) != 4 || parts[1] != m.Header.TraceID {
			t.Errorf("%s: traceparent %q (present %v) does not carry trace_id %s", id, tp, ok, m.Header.TraceID)
		}
		if m.Attempt != 1 || m.ID == "" || m.Timestamp.IsZero() || m.Partition < 0 || (m.Offset < 0 && m.Offset != -1) {
			t.Errorf("%s: delivery fields Attempt=%d ID=%q Timestamp=%v Partition=%d Offset=%d",
				id, m.Attempt, m.ID, m.Timestamp, m.Partition, m.Offset)
		}
		if d := time.Since(m.Timestamp); d < -time.Minute || d > 10*time.Minute {
			t.Errorf("%s: delivery Timestamp %v is not when the broker stored the record (now %v)", id, m.Timestamp, time.Now())
		}
		if m.Offset >= 0 && !strings.HasPrefix(m.ID, m.Topic+"/") {
			t.Errorf("%s: delivery ID %q does not start with the logical topic %q", id, m.ID, m.Topic)
		}
		if strings.Contains(m.ID, e.ns) || strings.Contains(m.Topic, e.ns) {
			t.Errorf("%s: the namespace %q leaked into topic %q / ID %q", id, e.ns, m.Topic, m.ID)
		}
	}
}

func sameHeader(a, b event.Header) bool {
	ta, tb := a.Timestamp, b.Timestamp
	a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

// activeKeys asserts that no two handlers of one key run at once.
type activeKeys struct {
	mu      sync.Mutex
	running map[string]bool
	n, max  int
}

// enter marks key busy; call the returned func when the handler is done.
func (a *activeKeys) enter(t testing.TB, key string) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]bool{}
	}
	if a.running[key] {
		t.Errorf("two handlers of key %s ran at the same time", key)
	}
	a.running[key] = true
	a.n++
	a.max = max(a.max, a.n)
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.running, key)
		a.n--
	}
}

func (a *activeKeys) peak() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.max
}

// orderedStreams builds, for tenants × per events of one event type,
// tenant-interleaved publish order; order maps "topic/tenant" to event ids
// in publish order.
func (e *env) orderedStreams(event string, tenants []string, per int) ([]bus.Outgoing, map[string][]string) {
	topic := e.fx.Topic(e.t, event)
	var out []bus.Outgoing
	order := map[string][]string{}
	for range per {
		for _, tn := range tenants {
			o := e.fx.Event(e.t, event, tn)
			out = append(out, o)
			k := topic + "/" + tn
			order[k] = append(order[k], o.EventID)
		}
	}
	return out, order
}

func ids(out []bus.Outgoing) []string {
	s := make([]string, len(out))
	for i, o := range out {
		s[i] = o.EventID
	}
	return s
}

// jitter lets handlers of different keys interleave differently each run.
func jitter() {
	if d := rand.IntN(300); d < 100 {
		time.Sleep(time.Duration(d) * time.Microsecond)
	}
}

// caseTenantOrder: many tenants × many events each, Concurrency 8: each
// tenant's events are handled one at a time in publish order.
func caseTenantOrder(e *env) {
	t := e.t
	const event = "deal.stage.changed"
	topics := e.prepare(event)
	c := e.client(e.transport())
	out, order := e.orderedStreams(event, Tenants(Scale(20, 10)), Scale(80, 20))
	tr := newTracker()
	var active activeKeys
	s := e.subscribe(c, bus.Subscription{Group: e.group("order"), Topics: topics, FromBeginning: true, Concurrency: 8},
		func(ctx context.Context, m *bus.Message) error {
			defer active.enter(t, m.Header.TenantID)()
			jitter()
			tr.record(m, true, false)
			return nil
		})
	e.publish(c, out)
	tr.waitAll(t, ids(out), waitTimeout)
	s.stop(t)
	checkOrder(t, tr.snapshot(), order, false)
	t.Logf("%d events of %d tenants; up to %d handlers ran at once", len(out), len(order), active.peak())
}

// caseRedelivery: a handler error makes the event come back with Attempt 2
// after RedeliveryDelay; nothing is lost and nothing of the tenant
// overtakes it.
func caseRedelivery(e *env) {
	t := e.t
	const event = "tenant.updated"
	topics := e.prepare(event)
	c := e.client(e.transport())
	out, order := e.orderedStreams(event, Tenants(Scale(10, 5)), Scale(30, 10))
	failOnce := map[string]bool{}
	for i, o := range out {
		if i%7 == 3 {
			failOnce[o.EventID] = true
		}
	}
	tr := newTracker()
	const delay = 50 * time.Millisecond
	s := e.subscribe(c, bus.Subscription{Group: e.group("redeliver"), Topics: topics, FromBeginning: true,
		Concurrency: 4, RedeliveryDelay: delay},
		func(ctx context.Context, m *bus.Message) error {
			jitter()
			if failOnce[m.Header.EventID] && m.Attempt == 1 {
				tr.record(m, false, false)
				return errTransient
			}
			tr.record(m, true, false)
			return nil
		})
	e.publish(c, out)
	tr.waitAll(t, ids(out), waitTimeout)
	s.stop(t)
	calls := tr.snapshot()
	// At-least-once lets a transport hand an already handled event again
	// (Kafka: rewinding a partition to its failed record replays what
	// followed it); it must not let a later event of the tenant go first.
	if n := checkOrder(t, calls, order, true); n > 0 {
		t.Logf("%d redeliveries of events already handled (%d events, %d failed once)", n, len(out), len(failOnce))
	}
	checkAttempts(t, calls, failOnce)
	checkDelay(t, calls, delay, 5*time.Millisecond)
}

// caseManyTenants: hundreds of tenants interleaved, a few events each; all
// arrive, each tenant's in order.
func caseManyTenants(e *env) {
	t := e.t
	const event = "task.completed"
	topics := e.prepare(event)
	c := e.client(e.transport())
	out, order := e.orderedStreams(event, Tenants(Scale(600, 150)), 3)
	tr := newTracker()
	s := e.subscribe(c, bus.Subscription{Group: e.group("tenants"), Topics: topics, FromBeginning: true, Concurrency: 16},
		func(ctx context.Context, m *bus.Message) error {
			tr.record(m, true, false)
			return nil
		})
	e.publish(c, out)
	tr.waitAll(t, ids(out), waitTimeout)
	s.stop(t)
	checkOrder(t, tr.snapshot(), order, false)
}

// caseLargeEvent: a payload of 1 MiB (metrics.published, the event with the
// most room in its schema) round-trips byte for byte, next to small events.
func caseLargeEvent(e *env) {
	t := e.t
	const event = "metrics.published"
	topics := e.prepare(event)
	c := e.client(e.transport())
	tenant := Tenants(1)[0]
	const size = 1 << 20
	big, err := LargeMetrics(tenant, size)
	if err != nil {
		t.Fatal(err)
	}
	out := []bus.Outgoing{
		e.fx.Event(t, event, tenant),
		{Event: event, Payload: big, EventID: Tenants(1)[0]},
		e.fx.Event(t, event, tenant),
	}
	tr := newTracker()
	s := e.subscribe(c, bus.Subscription{Group: e.group("large"), Topics: topics, FromBeginning: true},
		func(ctx context.Context, m *bus.Message) error {
			tr.record(m, true, true)
			return nil
		})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for i, o := range out {
		if _, err := c.Publish(ctx, o); err != nil {
			t.Fatalf("publish event %d (payload %d bytes): %v", i, len(o.Payload), err)
		}
	}
	tr.waitAll(t, ids(out), waitTimeout)
	s.stop(t)
	if got := tr.msgs[out[1].EventID].Payload; !bytes.Equal(got, big) {
		t.Errorf("the %d-byte payload arrived as %d bytes, changed", len(big), len(got))
	}
	checkOrder(t, tr.snapshot(), map[string][]string{tenant: ids(out)}, false)
}
