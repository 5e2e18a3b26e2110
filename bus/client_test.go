package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/registry"
)

// Unit tests of Client's pipeline over the in-memory test double. The
// conformance suite (bustest.Run) covers the same client over every real
// transport; these cover each decision of the pipeline one by one, fast.

func TestMain(m *testing.M) { bustest.Main(m, nil) }

type harness struct {
	t      *testing.T
	mem    *bustest.Memory
	c      *bus.Client
	fx     *bustest.Fixtures
	local  *registry.Local
	v      *schema.Validator
	cipher *pii.Cipher
}

func newHarness(t *testing.T, opts ...bustest.MemoryOption) *harness {
	t.Helper()
	fx := bustest.LoadFixtures(t)
	local, err := registry.NewLocal(fx.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.NewValidator(fx.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	return (&harness{fx: fx, local: local, v: v, cipher: bustest.NewPIICipher(t, fx.Catalog)}).fresh(t, opts...)
}

// fresh returns a harness with a new broker and client for t, sharing the
// compiled catalog (compiling it is most of a harness's cost).
func (h *harness) fresh(t *testing.T, opts ...bustest.MemoryOption) *harness {
	t.Helper()
	mem := bustest.NewMemory(opts...)
	c, err := bus.New(mem, bus.WithValidator(h.v), bus.WithLogger(bustest.TestLogger(t)), bus.WithPII(h.cipher),
		// Hand-made records (valid, below) carry PII in plaintext.
		bus.WithPlaintextPII())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, mem: mem, c: c, fx: h.fx, local: h.local, v: h.v, cipher: h.cipher}
}

// parts are the pieces of a hand-made record, for tests to break.
type parts struct {
	topic    string
	header   event.Header
	payload  []byte
	schemaID int
}

// valid returns the parts of a valid record of name for tenant.
func (h *harness) valid(name, tenant string) parts {
	h.t.Helper()
	e, err := h.fx.Catalog.Event(name)
	if err != nil {
		h.t.Fatal(err)
	}
	id, err := h.local.ID(name, e.Current().Version)
	if err != nil {
		h.t.Fatal(err)
	}
	hd, err := event.NewHeader(event.Header{EventName: name, Source: e.Source, TenantID: tenant,
		Version: e.Current().Version, Schema: e.SchemaName})
	if err != nil {
		h.t.Fatal(err)
	}
	return parts{topic: e.Topic, header: hd, payload: h.fx.Payload(h.t, name, tenant, nil), schemaID: id}
}

func (h *harness) encode(p parts) codec.Record {
	h.t.Helper()
	rec, err := codec.Encode(p.topic, event.Envelope{Header: p.header, Payload: p.payload}, p.schemaID)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// subscribe runs Subscribe until the test ends.
func (h *harness) subscribe(sub bus.Subscription, handler bus.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Subscribe(ctx, sub, handler) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Subscribe = %v", err)
		}
	})
}

// wait polls cond until it holds or 10 seconds pass.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func header(r codec.Record, name string) string {
	v, _ := r.Header(name)
	return string(v)
}

func TestSubscribeDeadLetters(t *testing.T) {
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	other := func(h *harness, name string) int {
		e, _ := h.fx.Catalog.Event(name)
		id, err := h.local.ID(name, e.Current().Version)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	tests := []struct {
		name    string
		record  func(h *harness) codec.Record
		handler bus.Handler // nil: fails the test if called
		kind    string
		reason  string // substring of spine-error-message
	}{
		{"garbage value", func(h *harness) codec.Record {
			return codec.Record{Topic: "lead.created", Key: []byte(tenant), Value: []byte("{not framed}")}
		}, nil, bus.KindDecode, "magic byte"},
		{"no headers", func(h *harness) codec.Record {
			r := h.encode(h.valid("lead.created", tenant))
			r.Headers = nil
			return r
		}, nil, bus.KindDecode, "header:event_id: is missing"},
		{"header value not UTF-8", func(h *harness) codec.Record {
			r := h.encode(h.valid("lead.created", tenant))
			r.Headers = append(r.Headers, codec.Header{Key: "x-bin", Value: []byte{0xff}})
			return r
		}, nil, bus.KindDecode, "not UTF-8"},
		{"key is not the tenant", func(h *harness) codec.Record {
			r := h.encode(h.valid("lead.created", tenant))
			r.Key = []byte("someone-else")
			return r
		}, nil, bus.KindDecode, "not the tenant_id"},
		{"event not in the catalog", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.header.EventName = "lead.vanished"
			return h.encode(p)
		}, nil, bus.KindUnknown, "lead.vanished"},
		{"event on another event's topic", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.topic = "deal.stage.changed"
			return h.encode(p)
		}, nil, bus.KindMismatch, "arrived on topic"},
		{"schema id not in the registry", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.schemaID = 4242
			return h.encode(p)
		}, nil, bus.KindUnknown, "4242"},
		{"schema id of another event", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.schemaID = other(h, "deal.stage.changed")
			return h.encode(p)
		}, nil, bus.KindMismatch, "but the header says"},
		{"header version other than the schema id's", func(h *harness) codec.Record {
			p := h.valid("customer.synced", tenant)
			p.schemaID, _ = h.local.ID("customer.synced", "1.0.0")
			p.header.Version = "1.1.0"
			return h.encode(p)
		}, nil, bus.KindMismatch, "but the header says"},
		{"header schema name not the catalog's", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.header.Schema = "crm-other-schema-v1"
			return h.encode(p)
		}, nil, bus.KindMismatch, "crm-other-schema-v1"},
		{"payload breaks the schema", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.payload = h.fx.Payload(t, "lead.created", tenant, map[string]any{"email": "not an address"})
			return h.encode(p)
		}, nil, bus.KindSchema, "/email"},
		{"payload is not JSON", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.payload = []byte("{]")
			return h.encode(p)
		}, nil, bus.KindSchema, ""},
		{"payload tenant differs from the header", func(h *harness) codec.Record {
			p := h.valid("lead.created", tenant)
			p.payload = h.fx.Payload(t, "lead.created", "0b8e6a4e-8f3c-4d4f-9a57-3b2f0c1d2e3f", nil)
			return h.encode(p)
		}, nil, bus.KindMismatch, "tenant_id"},
		{"handler fails permanently", func(h *harness) codec.Record {
			return h.encode(h.valid("lead.created", tenant))
		}, func(context.Context, *bus.Message) error {
			return bus.Permanent(errors.New("the lead's account was deleted"))
		}, bus.KindHandler, "account was deleted"},
		{"handler panics", func(h *harness) codec.Record {
			return h.encode(h.valid("lead.created", tenant))
		}, func(context.Context, *bus.Message) error { panic("boom") }, bus.KindPanic, "boom"},
	}
	base := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base.fresh(t)
			rec := tt.record(h)
			if err := h.mem.Send(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			handler := tt.handler
			if handler == nil {
				handler = func(_ context.Context, m *bus.Message) error {
					t.Errorf("handler called for a record the pipeline must reject: %+v", m.Header)
					return nil
				}
			}
			const group = "unit"
			h.subscribe(bus.Subscription{Group: group, Topics: []string{rec.Topic}, FromBeginning: true}, handler)
			dlq := bus.DLQTopic(rec.Topic)
			wait(t, "the dead letter", func() bool { return len(h.mem.Records(dlq)) > 0 })
			dl := h.mem.Records(dlq)[0]
			if !bytes.Equal(dl.Key, rec.Key) || !bytes.Equal(dl.Value, rec.Value) {
				t.Errorf("dead letter key/value changed")
			}
			for i, hd := range rec.Headers {
				if dl.Headers[i].Key != hd.Key || !bytes.Equal(dl.Headers[i].Value, hd.Value) {
					t.Errorf("original header #%d not kept: %s=%q", i, dl.Headers[i].Key, dl.Headers[i].Value)
				}
			}
			want := map[string]string{
				codec.HeaderErrorKind:         tt.kind,
				codec.HeaderOriginalTopic:     rec.Topic,
				codec.HeaderOriginalPartition: "", // any
				codec.HeaderOriginalOffset:    "0",
				codec.HeaderConsumerGroup:     group,
				codec.HeaderAttempt:           "1",
			}
			for k, v := range want {
				got, ok := dl.Header(k)
				if !ok || (v != "" && string(got) != v) {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if msg := header(dl, codec.HeaderErrorMessage); !strings.Contains(msg, tt.reason) || msg == "" {
				t.Errorf("%s = %q, want it to mention %q", codec.HeaderErrorMessage, msg, tt.reason)
			}
			for _, k := range []string{codec.HeaderFirstFailure, codec.HeaderLastFailure, codec.HeaderOriginalTimestamp} {
				if _, err := event.ParseTimestamp(header(dl, k)); err != nil {
					t.Errorf("%s: %v", k, err)
				}
			}
			// The rejected record was acknowledged: a new member of the
			// group gets nothing.
			time.Sleep(20 * time.Millisecond)
			if n := len(h.mem.Records(dlq)); n != 1 {
				t.Errorf("%d dead letters, want 1", n)
			}
		})
	}
}

// The error message header is bounded, whatever the handler returned.
func TestDeadLetterClipsLongErrors(t *testing.T) {
	h := newHarness(t)
	p := h.valid("lead.created", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
	rec := h.encode(p)
	if err := h.mem.Send(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 2000) // 4000 bytes
	h.subscribe(bus.Subscription{Group: "g", Topics: []string{rec.Topic}, FromBeginning: true},
		func(context.Context, *bus.Message) error { return bus.Permanent(errors.New(long)) })
	dlq := bus.DLQTopic(rec.Topic)
	wait(t, "the dead letter", func() bool { return len(h.mem.Records(dlq)) > 0 })
	msg := header(h.mem.Records(dlq)[0], codec.HeaderErrorMessage)
	if len(msg) > 1024+len("…") || !strings.HasSuffix(msg, "…") || !strings.HasPrefix(msg, "éé") {
		t.Errorf("error message header is %d bytes (%q…)", len(msg), msg[:min(len(msg), 20)])
	}
}

func TestSubscribeRedeliversTransientFailures(t *testing.T) {
	h := newHarness(t)
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	var recs []codec.Record
	for range 3 {
		recs = append(recs, h.encode(h.valid("tenant.updated", tenant)))
	}
	if err := h.mem.Send(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	h.subscribe(bus.Subscription{Group: "g", Topics: []string{"tenant.updated"}, FromBeginning: true, RedeliveryDelay: time.Millisecond},
		func(_ context.Context, m *bus.Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, fmt.Sprintf("%s#%d", m.Header.EventID[:8], m.Attempt))
			if m.Header.EventID == string(recs[1].Headers[0].Value) && m.Attempt < 3 {
				return errors.New("database busy")
			}
			return nil
		})
	id := func(i int) string { return string(recs[i].Headers[0].Value[:8]) }
	want := []string{id(0) + "#1", id(1) + "#1", id(1) + "#2", id(1) + "#3", id(2) + "#1"}
	wait(t, "all three handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("handled %v, want %v", seen, want)
	}
	if n := len(h.mem.Records("tenant.updated.dlq")); n != 0 {
		t.Errorf("%d dead letters for a transient failure", n)
	}
}

// When the dead letter cannot be written, the record is not acknowledged:
// it comes back and is dead-lettered on a later attempt.
func TestDeadLetterWriteFailureRedelivers(t *testing.T) {
	var failed atomic.Int32
	h := newHarness(t, bustest.MemorySendHook(func(_ context.Context, r codec.Record) error {
		if strings.HasSuffix(r.Topic, ".dlq") && failed.Add(1) == 1 {
			return errors.New("broker unavailable")
		}
		return nil
	}))
	rec := codec.Record{Topic: "lead.created", Key: []byte("k"), Value: []byte("garbage")}
	if err := h.mem.Send(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	h.subscribe(bus.Subscription{Group: "g", Topics: []string{rec.Topic}, FromBeginning: true, RedeliveryDelay: time.Millisecond},
		func(context.Context, *bus.Message) error { return nil })
	wait(t, "the dead letter", func() bool { return len(h.mem.Records("lead.created.dlq")) > 0 })
	dl := h.mem.Records("lead.created.dlq")
	if len(dl) != 1 || header(dl[0], codec.HeaderAttempt) != "2" {
		t.Fatalf("dead letters %d, attempt %q; want 1 written on attempt 2", len(dl), header(dl[0], codec.HeaderAttempt))
	}
}

func TestPublishRejectsBeforeSending(t *testing.T) {
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	tests := []struct {
		name   string
		opts   []bus.Option
		events func(h *harness) []bus.Outgoing
		check  func(t *testing.T, err error)
	}{
		{"unknown event", nil, func(h *harness) []bus.Outgoing {
			return []bus.Outgoing{{Event: "lead.vanished", Payload: []byte(`{}`)}}
		}, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "lead.vanished") {
				t.Errorf("err = %v", err)
			}
		}},
		{"invalid payload", nil, func(h *harness) []bus.Outgoing {
			return []bus.Outgoing{{Event: "lead.created", Payload: h.fx.Payload(t, "lead.created", tenant, map[string]any{"email": 7})}}
		}, func(t *testing.T, err error) {
			if !errors.Is(err, event.ErrInvalid) || !strings.Contains(err.Error(), "/email") {
				t.Errorf("err = %v, want ErrInvalid naming /email", err)
			}
		}},
		{"one invalid event fails the batch", nil, func(h *harness) []bus.Outgoing {
			return []bus.Outgoing{h.fx.Event(t, "lead.created", tenant),
				{Event: "lead.created", Payload: h.fx.Payload(t, "lead.created", tenant, map[string]any{"lead_id": nil})}}
		}, func(t *testing.T, err error) {
			if !errors.Is(err, event.ErrInvalid) || !strings.Contains(err.Error(), "event 2 of 2") {
				t.Errorf("err = %v, want ErrInvalid for event 2 of 2", err)
			}
		}},
		{"unknown version", nil, func(h *harness) []bus.Outgoing {
			o := h.fx.Event(t, "lead.created", tenant)
			o.Version = "7.0.0"
			return []bus.Outgoing{o}
		}, func(t *testing.T, err error) {
			if err == nil {
				t.Error("published under a version the catalog lacks")
			}
		}},
		{"not the event's producer", []bus.Option{bus.WithSource("crm-service")}, func(h *harness) []bus.Outgoing {
			return []bus.Outgoing{h.fx.Event(t, "tenant.created", tenant)}
		}, func(t *testing.T, err error) {
			var ge *bus.GrantError
			if !errors.As(err, &ge) || ge.Source != "crm-service" || ge.Producer != "tenant-service" {
				t.Errorf("err = %v, want a GrantError", err)
			}
		}},
		{"extra header named like an envelope field", nil, func(h *harness) []bus.Outgoing {
			o := h.fx.Event(t, "lead.created", tenant)
			o.Headers = []codec.Header{{Key: "tenant_id", Value: []byte("x")}}
			return []bus.Outgoing{o}
		}, func(t *testing.T, err error) {
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		}},
		{"bad event id", nil, func(h *harness) []bus.Outgoing {
			o := h.fx.Event(t, "lead.created", tenant)
			o.EventID = "not-a-uuid"
			return []bus.Outgoing{o}
		}, func(t *testing.T, err error) {
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		}},
	}
	base := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base.fresh(t)
			c, err := bus.New(h.mem, append([]bus.Option{bus.WithValidator(h.v), bus.WithPII(h.cipher)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Publish(context.Background(), tt.events(h)...)
			tt.check(t, err)
			for _, e := range h.fx.Catalog.Events() {
				if n := len(h.mem.Records(e.Topic)); n > 0 {
					t.Errorf("%d records sent to %s by a failed Publish", n, e.Topic)
				}
			}
		})
	}
}

// Publish lays the event out as docs/wire-format.md says and keeps what the
// caller fixed (event id, timestamp, extra headers).
func TestPublishRecord(t *testing.T) {
	h := newHarness(t)
	const tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	o := h.fx.Event(t, "lead.created", tenant)
	o.Timestamp = time.Date(2025, 10, 24, 14, 0, 0, 123, time.UTC)
	o.Headers = []codec.Header{{Key: "x-request-id", Value: []byte("r-1")}}
	ps, err := h.c.Publish(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	recs := h.mem.Records("lead.created")
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	rec := recs[0]
	d, err := codec.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	hd := d.Envelope.Header
	if hd.EventID != o.EventID || !hd.Timestamp.Equal(o.Timestamp) || hd.TenantID != tenant || hd.Source != "crm-service" ||
		hd.EventName != "lead.created" || hd.Schema != "crm-lead-schema-v1" || hd.Version != "1.0.0" {
		t.Errorf("header %+v", hd)
	}
	if hd != p.Header || p.Topic != "lead.created" || d.SchemaID != p.SchemaID {
		t.Errorf("Published %+v does not describe the record (%+v, schema id %d)", p, hd, d.SchemaID)
	}
	if want, _ := h.local.ID("lead.created", "1.0.0"); d.SchemaID != want {
		t.Errorf("schema id %d, want the local registry's %d", d.SchemaID, want)
	}
	// The PII fields left the client encrypted, and decrypt to what was
	// published.
	if enc, _ := d.Header(codec.HeaderEncryption); string(enc) != pii.HeaderValue {
		t.Errorf("%s = %q, want %q", codec.HeaderEncryption, enc, pii.HeaderValue)
	}
	if bytes.Contains(rec.Value, []byte("@example.com")) {
		t.Errorf("plaintext PII on the wire: %s", rec.Value)
	}
	plain, err := h.cipher.Decrypt(context.Background(), "lead.created", "1.0.0", tenant, hd.EventID, d.Envelope.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Key) != tenant || !bytes.Equal(plain, o.Payload) {
		t.Errorf("key %q payload %q decrypts to %q", rec.Key, d.Envelope.Payload, plain)
	}
	if v, ok := d.Header("x-request-id"); !ok || string(v) != "r-1" {
		t.Errorf("extra header lost: %q", v)
	}
	tp, ok := d.Header(codec.HeaderTraceparent)
	if !ok || !strings.HasPrefix(string(tp), "00-"+hd.TraceID+"-") {
		t.Errorf("traceparent %q does not carry trace_id %s", tp, hd.TraceID)
	}
}

func TestSubscribeNeedsGroupAndTopics(t *testing.T) {
	h := newHarness(t)
	for _, sub := range []bus.Subscription{{Topics: []string{"lead.created"}}, {Group: "g"}} {
		if err := h.c.Subscribe(context.Background(), sub, func(context.Context, *bus.Message) error { return nil }); err == nil {
			t.Errorf("Subscribe(%+v) = nil, want an error", sub)
		}
	}
}
