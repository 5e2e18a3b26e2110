package redisstream

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
)

// The full stack: bus.Client over the transport.

type received struct {
	mu   sync.Mutex
	msgs []*bus.Message
	ok   map[string]bool
}

func (r *received) add(m *bus.Message, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	if r.ok == nil {
		r.ok = map[string]bool{}
	}
	if ok {
		r.ok[m.Header.EventID] = true
	}
}

func (r *received) handled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ok)
}

func (r *received) snapshot() []*bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*bus.Message(nil), r.msgs...)
}

func newClient(t *testing.T, w *world, tr bus.Transport) *bus.Client {
	t.Helper()
	c, err := bus.New(tr, bus.WithLogger(slog.New(w.logs)), bus.WithPII(bustest.NewPIICipher(t, catalog.MustDefault())))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// events returns n events of each tenant, interleaved, and each tenant's
// event ids in publish order.
func events(t *testing.T, fx *bustest.Fixtures, event string, tenants []string, n int) ([]bus.Outgoing, map[string][]string) {
	var out []bus.Outgoing
	order := map[string][]string{}
	for range n {
		for _, tn := range tenants {
			o := fx.Event(t, event, tn)
			out = append(out, o)
			order[tn] = append(order[tn], o.EventID)
		}
	}
	return out, order
}

func TestClientPublishSubscribe(t *testing.T) {
	w := newWorld(t)
	fx := bustest.LoadFixtures(t)
	c := newClient(t, w, w.transport(Config{}))
	const event = "lead.created"
	out, order := events(t, fx, event, bustest.Tenants(4), 10)
	if _, err := c.Publish(context.Background(), out...); err != nil {
		t.Fatal(err)
	}
	var got received
	r := w.subscribe(c, bus.Subscription{Group: "svc", Topics: []string{fx.Topic(t, event)}, FromBeginning: true},
		func(_ context.Context, m *bus.Message) error {
			got.add(m, true)
			return nil
		})
	waitFor(t, "all events", func() bool { return got.handled() == len(out) }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for _, m := range got.snapshot() {
		seen[m.Header.TenantID] = append(seen[m.Header.TenantID], m.Header.EventID)
		if m.Attempt != 1 || m.Offset != -1 || m.Partition != 0 || m.ID == "" || m.Timestamp.IsZero() || m.Topic != event {
			t.Errorf("message fields: Attempt %d Offset %d Partition %d ID %q Timestamp %v Topic %q",
				m.Attempt, m.Offset, m.Partition, m.ID, m.Timestamp, m.Topic)
		}
		if time.Since(m.Timestamp) > time.Hour {
			t.Errorf("Timestamp %v is not when Redis stored the entry", m.Timestamp)
		}
	}
	for tn, ids := range order {
		if !slices.Equal(seen[tn], ids) {
			t.Errorf("tenant %s: handled %v, published %v", tn, seen[tn], ids)
		}
	}
	if p := w.pending(event, "svc"); len(p) != 0 {
		t.Errorf("%d entries still pending", len(p))
	}
}

// A strict event is retried in place: the failed entry stays pending, its
// Attempt is Redis's delivery count, and no later event of its tenant
// overtakes it. (Non-blocking events are parked on retry streams instead:
// the conformance case NonBlockingRetry.)
func TestClientRedeliveryAttempt2(t *testing.T) {
	w := newWorld(t)
	fx := bustest.LoadFixtures(t)
	c := newClient(t, w, w.transport(Config{}))
	const event = "deal.stage.changed" // strict in the catalog
	out, order := events(t, fx, event, bustest.Tenants(3), 6)
	fail := map[string]bool{out[1].EventID: true, out[7].EventID: true, out[8].EventID: true}
	if _, err := c.Publish(context.Background(), out...); err != nil {
		t.Fatal(err)
	}
	var got received
	r := w.subscribe(c, bus.Subscription{Group: "svc", Topics: []string{fx.Topic(t, event)}, FromBeginning: true,
		Concurrency: 3, RedeliveryDelay: 50 * time.Millisecond},
		func(_ context.Context, m *bus.Message) error {
			if fail[m.Header.EventID] && m.Attempt == 1 {
				got.add(m, false)
				return errors.New("transient")
			}
			got.add(m, true)
			return nil
		})
	waitFor(t, "all events", func() bool { return got.handled() == len(out) }, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	attempts := map[string][]int{}
	done := map[string][]string{}
	for _, m := range got.snapshot() {
		attempts[m.Header.EventID] = append(attempts[m.Header.EventID], m.Attempt)
		if !fail[m.Header.EventID] || m.Attempt == 2 {
			done[m.Header.TenantID] = append(done[m.Header.TenantID], m.Header.EventID)
		}
	}
	for id := range fail {
		if a := attempts[id]; len(a) != 2 || a[0] != 1 || a[1] != 2 {
			t.Errorf("event %s attempts %v, want [1 2]", id, a)
		}
	}
	for tn, ids := range order {
		if !slices.Equal(done[tn], ids) {
			t.Errorf("tenant %s completed in order %v, want %v: an event overtook a failed one", tn, done[tn], ids)
		}
	}
}

// An entry written by something else without the field layout is not
// dropped: it ends in the dead-letter stream with every field it had.
func TestClientMalformedEntryDeadLettered(t *testing.T) {
	w := newWorld(t)
	fx := bustest.LoadFixtures(t)
	tr := w.transport(Config{})
	c := newClient(t, w, tr)
	const event = "lead.created"
	topic := fx.Topic(t, event)
	ctx := context.Background()
	if err := w.rdb.XAdd(ctx, &redis.XAddArgs{Stream: w.stream(topic), Values: []any{"tenant", "t-1", "payload", "{}"}}).Err(); err != nil {
		t.Fatal(err)
	}
	good := fx.Event(t, event, bustest.Tenants(1)[0])
	if _, err := c.Publish(ctx, good); err != nil {
		t.Fatal(err)
	}
	var got received
	r := w.subscribe(c, bus.Subscription{Group: "svc", Topics: []string{topic}, FromBeginning: true},
		func(_ context.Context, m *bus.Message) error {
			got.add(m, true)
			return nil
		})
	waitFor(t, "the good event", func() bool { return got.handled() == 1 }, r)
	var dlq []codec.Record
	waitFor(t, "the dead letter", func() bool {
		es, err := w.rdb.Do(ctx, "XRANGE", w.stream(bus.DLQTopic(topic)), "-", "+").Result()
		if err != nil {
			return false
		}
		raw, err := parseEntries(es)
		if err != nil || len(raw) == 0 {
			return false
		}
		rec, err := RecordFromEntry(bus.DLQTopic(topic), raw[0].fields)
		if err != nil {
			t.Fatalf("the dead letter itself breaks the layout: %v", err)
		}
		dlq = append(dlq, rec)
		return true
	}, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	d := dlq[0]
	if len(d.Value) != 0 || len(d.Headers) < 2 || d.Headers[0].Key != "tenant" || string(d.Headers[1].Value) != "{}" {
		t.Errorf("dead letter does not carry the entry's fields: %+v", d)
	}
	if kind, _ := d.Header(codec.HeaderErrorKind); string(kind) != bus.KindDecode {
		t.Errorf("error kind %q, want %q", kind, bus.KindDecode)
	}
	if p := w.pending(topic, "svc"); len(p) != 0 {
		t.Errorf("the malformed entry is still pending: %v", p)
	}
	if !w.logs.has("WARN", "does not follow the wire format") {
		t.Error("the malformed entry was not logged")
	}
}
