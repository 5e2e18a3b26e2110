package bustest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/schema/registry"
)

// caseBrokerRestart: the broker restarts while a publisher and a subscriber
// run. The publisher retries failed Publish calls with the same event ids,
// as a service would; every event whose Publish succeeded is handled, and
// Subscribe rides out the restart instead of returning.
func caseBrokerRestart(e *env) {
	t := e.t
	const event = "customer.synced"
	topics := e.prepare(event)
	c := e.client(e.transport())
	tr := newTracker()
	s := e.subscribe(c, bus.Subscription{Group: e.group("restart"), Topics: topics, FromBeginning: true, Concurrency: 4},
		func(ctx context.Context, m *bus.Message) error {
			tr.record(m, true, false)
			return nil
		})

	var (
		mu       sync.Mutex
		acked    []string
		failures []string
	)
	ackedN := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	tenants := Tenants(8)
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			batch := make([]bus.Outgoing, 5)
			for j := range batch {
				var err error
				if batch[j], err = e.fx.event(event, tenants[(i*5+j)%len(tenants)]); err != nil {
					t.Error(err)
					return
				}
			}
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := c.Publish(ctx, batch...)
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, ids(batch)...)
					mu.Unlock()
					break
				}
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				select {
				case <-stopPub:
					return // this batch was never acknowledged
				case <-time.After(200 * time.Millisecond):
				}
			}
			select {
			case <-stopPub:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	stopPublisher := func() {
		select {
		case <-stopPub:
		default:
			close(stopPub)
		}
		<-pubDone
	}
	t.Cleanup(stopPublisher)

	waitAcked := func(n int, timeout time.Duration) {
		deadline := time.Now().Add(timeout)
		for ackedN() < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := ackedN(); got < n {
			stopPublisher()
			t.Fatalf("only %d events acknowledged after %v, want %d; last publish errors: %v", got, timeout, n, lastN(failures, 3))
		}
	}
	waitAcked(Scale(100, 40), waitTimeout)
	before := ackedN()
	e.b.Restart(t)
	waitAcked(ackedN()+Scale(100, 40), restartTimeout)
	stopPublisher()

	mu.Lock()
	all := append([]string(nil), acked...)
	nfail := len(failures)
	mu.Unlock()
	tr.waitAll(t, all, restartTimeout)
	if exited, err := s.exited(); exited {
		t.Errorf("Subscribe returned (%v) before its context ended: it must ride out a broker restart", err)
	}
	s.stop(t)
	dups := 0
	for _, id := range all {
		dups += tr.count(id) - 1
	}
	t.Logf("%d events acknowledged (%d before the restart), %d publish attempts failed, %d redeliveries",
		len(all), before, nfail, dups)
	if nfail > 0 {
		t.Logf("publish errors seen, e.g.: %v", lastN(failures, 2))
	}
}

func lastN(s []string, n int) []string { return s[max(0, len(s)-n):] }

// casePoison: records that are not Spine events go to "<topic>.dlq" with
// spine-error-kind "decode", a payload that breaks its schema with "schema";
// the dead letter keeps the original key, value and headers; events behind
// the poison (same tenant, same partition) still flow.
func casePoison(e *env) {
	t := e.t
	const name = "lead.created"
	topics := e.prepare(name)
	topic := topics[0]
	tr := e.transport()
	c := e.client(tr)
	tenant := Tenants(1)[0]

	ev, err := e.fx.Catalog.Event(name)
	if err != nil {
		t.Fatal(err)
	}
	local, err := registry.NewLocal(e.fx.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	schemaID, err := local.ID(name, ev.Current().Version)
	if err != nil {
		t.Fatal(err)
	}
	// encode builds a record by hand, its PII fields encrypted as a
	// producer's would be.
	encode := func(payload []byte, extra ...codec.Header) codec.Record {
		h, err := event.NewHeader(event.Header{EventName: name, Source: ev.Source, TenantID: tenant,
			Version: ev.Current().Version, Schema: ev.SchemaName})
		if err != nil {
			t.Fatal(err)
		}
		if payload, err = e.pii.Encrypt(context.Background(), name, h.Version, tenant, h.EventID, payload); err != nil {
			t.Fatal(err)
		}
		extra = append(extra, codec.Header{Key: codec.HeaderEncryption, Value: []byte(pii.HeaderValue)})
		rec, err := codec.Encode(topic, event.Envelope{Header: h, Payload: payload}, schemaID, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	garbage := codec.Record{Topic: topic, Key: []byte(tenant), Value: []byte("\xff\x00 not a spine event \x01"),
		Headers: []codec.Header{{Key: "x-bustest", Value: []byte("garbage")}}}
	badHeader := encode(e.fx.Payload(t, name, tenant, nil))
	badHeader.Headers = append(badHeader.Headers, codec.Header{Key: "x-bustest-binary", Value: []byte("\xff\xfe")})
	badSchema := encode(e.fx.Payload(t, name, tenant, map[string]any{"lead_id": nil}))
	poison := []struct {
		rec  codec.Record
		kind string
	}{{garbage, bus.KindDecode}, {badHeader, bus.KindDecode}, {badSchema, bus.KindSchema}}

	var good []bus.Outgoing
	for range 6 {
		good = append(good, e.fx.Event(t, name, tenant))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	send := func(recs ...codec.Record) {
		if err := tr.Send(ctx, recs...); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	send(garbage, badHeader)
	e.publish(c, good[:3])
	send(badSchema)
	e.publish(c, good[3:])

	group := e.group("poison")
	handled := newTracker()
	s := e.subscribe(c, bus.Subscription{Group: group, Topics: topics, FromBeginning: true},
		func(ctx context.Context, m *bus.Message) error {
			handled.record(m, true, false)
			return nil
		})
	handled.waitAll(t, ids(good), waitTimeout)
	checkOrder(t, handled.snapshot(), map[string][]string{tenant: ids(good)}, false)

	// Read the dead letters back through the transport.
	var (
		mu      sync.Mutex
		letters []*bus.Delivery
		got     = make(chan struct{}, 16)
	)
	dctx, dcancel := context.WithCancel(context.Background())
	dlqDone := make(chan error, 1)
	go func() {
		dlqDone <- tr.Consume(dctx, bus.Subscription{Group: group + "-dlq", Topics: []string{bus.DLQTopic(topic)}, FromBeginning: true},
			func(_ context.Context, d *bus.Delivery) error {
				mu.Lock()
				letters = append(letters, d)
				mu.Unlock()
				got <- struct{}{}
				return nil
			})
	}()
	deadline := time.After(waitTimeout)
	for n := 0; n < len(poison); {
		select {
		case <-got:
			n++
		case <-deadline:
			n = len(poison)
			t.Errorf("timed out waiting for %d dead letters", len(poison))
		}
	}
	dcancel()
	if err := <-dlqDone; err != nil {
		t.Errorf("Consume of the DLQ returned %v after its context ended", err)
	}
	s.stop(t)

	mu.Lock()
	defer mu.Unlock()
	for i, p := range poison {
		var d *bus.Delivery
		for _, l := range letters {
			if bytes.Equal(l.Record.Value, p.rec.Value) {
				d = l
				break
			}
		}
		if d == nil {
			t.Errorf("poison record %d (%s) is not in %s", i, p.kind, bus.DLQTopic(topic))
			continue
		}
		checkDeadLetter(t, fmt.Sprintf("poison record %d", i), d, p.rec, p.kind, group)
	}
	if len(letters) != len(poison) {
		t.Errorf("%d dead letters, want %d", len(letters), len(poison))
	}
}

// checkDeadLetter asserts what a dead letter must carry.
func checkDeadLetter(t testing.TB, what string, d *bus.Delivery, orig codec.Record, kind, group string) {
	t.Helper()
	r := d.Record
	if r.Topic != bus.DLQTopic(orig.Topic) {
		t.Errorf("%s: dead letter on topic %q, want the logical %q", what, r.Topic, bus.DLQTopic(orig.Topic))
	}
	if !bytes.Equal(r.Key, orig.Key) || !bytes.Equal(r.Value, orig.Value) {
		t.Errorf("%s: key/value changed: %q %q, want %q %q", what, r.Key, r.Value, orig.Key, orig.Value)
	}
	if len(r.Headers) < len(orig.Headers) {
		t.Errorf("%s: %d headers, fewer than the original's %d", what, len(r.Headers), len(orig.Headers))
	} else {
		for i, h := range orig.Headers {
			if r.Headers[i].Key != h.Key || !bytes.Equal(r.Headers[i].Value, h.Value) {
				t.Errorf("%s: header #%d is %s=%q, want the original %s=%q", what, i, r.Headers[i].Key, r.Headers[i].Value, h.Key, h.Value)
			}
		}
	}
	want := map[string]string{
		codec.HeaderErrorKind:     kind,
		codec.HeaderOriginalTopic: orig.Topic,
		codec.HeaderConsumerGroup: group,
	}
	for k, v := range want {
		if got, ok := r.Header(k); !ok || string(got) != v {
			t.Errorf("%s: header %s = %q (present %v), want %q", what, k, got, ok, v)
		}
	}
	for _, k := range []string{codec.HeaderErrorMessage, codec.HeaderOriginalOffset, codec.HeaderFirstFailure} {
		if v, ok := r.Header(k); !ok || len(v) == 0 {
			t.Errorf("%s: header %s missing", what, k)
		}
	}
	// Partitions exist where offsets do (Kafka); a Redis stream has none,
	// and its dead letters say so by leaving the header out.
	_, hasPartition := r.Header(codec.HeaderOriginalPartition)
	if wantPartition := d.Offset >= 0; hasPartition != wantPartition {
		t.Errorf("%s: header %s present %v, want %v (delivery offset %d)", what, codec.HeaderOriginalPartition, hasPartition, wantPartition, d.Offset)
	}
}
