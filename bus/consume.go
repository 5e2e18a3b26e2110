package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/pii"
)

// Subscribe consumes sub's topics and calls h for every event, until ctx
// ends; then in-flight handlers finish and their positions are committed.
//
// Before h sees an event, the record is decoded and checked: a known event
// on its own topic, a schema id that is that event's version, a payload
// valid under it and carrying the header's tenant; with WithTokenVerifier a
// valid token of the event's producer; PII encrypted (decrypted for h with
// WithPII). A record failing any check — and an event whose handler fails
// permanently or panics — is written to "<topic>.dlq" with the reason and
// then acknowledged: nothing is dropped, nothing blocks the partition.
//
// A handler's other errors are retried on the event's schedule: parked on
// the topic's retry topics for non-blocking events where the transport
// parks (RetryParker: Kafka, Redis), which Subscribe then reads too; in place,
// holding the event's key only, otherwise. With WithSource, topics whose
// events do not list the service as a consumer are refused.
func (c *Client) Subscribe(ctx context.Context, sub Subscription, h Handler) error {
	if sub.Group == "" || len(sub.Topics) == 0 {
		return errors.New("subscribe: a group and at least one topic are required")
	}
	if err := c.consumeGrant(sub.Topics); err != nil {
		return err
	}
	routes, byOrigin := c.retryTopics(sub.Topics)
	if len(routes) > 0 {
		if err := c.transport.(RetryParker).PrepareRetryTopics(ctx, byOrigin); err != nil {
			if ctx.Err() != nil {
				return nil // as Consume: an ended context is a clean stop
			}
			return fmt.Errorf("subscribe %s: retry topics: %w", sub.Group, err)
		}
		sub.Topics = slices.Clone(sub.Topics)
		sub.FromBeginningTopics = slices.Clone(sub.FromBeginningTopics)
		for _, origin := range slices.Sorted(maps.Keys(byOrigin)) {
			sub.Topics = append(sub.Topics, byOrigin[origin]...)
			sub.FromBeginningTopics = append(sub.FromBeginningTopics, byOrigin[origin]...)
		}
	}
	return c.transport.Consume(ctx, sub, func(ctx context.Context, d *Delivery) error {
		if r, ok := routes[d.Record.Topic]; ok {
			return c.handleParked(ctx, sub.Group, d, r, h)
		}
		return c.handle(ctx, sub.Group, d, originOf(d), h)
	})
}

// rejection is a record that can never be handled.
type rejection struct {
	kind string
	err  error
}

// handleParked handles a record read from a retry topic: another group's
// is skipped, one not yet due makes its partition wait, a due one is handled
// as its original delivery would have been, one attempt later.
func (c *Client) handleParked(ctx context.Context, group string, d *Delivery, r retryRoute, h Handler) error {
	if g, _ := d.Record.Header(codec.HeaderConsumerGroup); string(g) != group {
		return nil // parked by another group, which handles it
	}
	o, err := parkedOrigin(d, r)
	if err != nil {
		o.topic, o.parked = r.origin, true
		return c.deadLetter(ctx, group, d, o, &rejection{KindDecode, err})
	}
	if time.Now().Before(o.due) {
		return &NotDueError{Until: o.due}
	}
	return c.handle(ctx, group, d, o, h)
}

func (c *Client) handle(ctx context.Context, group string, d *Delivery, o origin, h Handler) error {
	m, rej := c.check(ctx, d, o.topic)
	if rej != nil {
		if rej.kind == KindPlaintext {
			d = c.protectPII(ctx, d)
		}
		return c.deadLetter(ctx, group, d, o, rej)
	}
	m.Attempt = o.failed + 1
	if rej, err := c.secure(ctx, group, m); rej != nil {
		return c.deadLetter(ctx, group, d, o, rej)
	} else if err != nil {
		return err // the transport delivers it again
	}
	ctx, span := c.startProcess(ctx, m, group)
	defer span.End()
	ctx = withHeader(ctx, m.Header)

	err := callHandler(ctx, h, m)
	switch {
	case err == nil:
		c.stats.topic(m.Topic).handled.Add(1)
		if d.Attempt > 1 && !o.parked {
			c.firsts.take(group, d)
		}
		return nil
	case errors.Is(err, errPanicked):
		span.SetStatus(codes.Error, err.Error())
		return c.deadLetter(ctx, group, d, o, &rejection{KindPanic, err})
	case IsPermanent(err):
		span.SetStatus(codes.Error, err.Error())
		return c.deadLetter(ctx, group, d, o, &rejection{KindHandler, err})
	default:
		span.SetStatus(codes.Error, err.Error())
		return c.retry(ctx, group, d, o, m, err)
	}
}

// retry schedules the next attempt of a failed event on its catalog
// schedule (spec §8: 0.5 s, 2 s, 8 s, 32 s) and dead-letters it once the
// schedule is spent. A non-blocking event is parked on a retry topic where
// the transport has them; otherwise the transport holds the event's key
// meanwhile, so no later event of the tenant overtakes it.
func (c *Client) retry(ctx context.Context, group string, d *Delivery, o origin, m *Message, err error) error {
	e, _ := c.cat.Lookup(m.Header.EventName) // check found it
	delays := c.delaysOf(e)
	attempt := m.Attempt
	if attempt > len(delays) {
		return c.deadLetter(ctx, group, d, o, &rejection{KindHandler,
			fmt.Errorf("gave up after %d attempts (%d retries): %w", attempt, len(delays), err)})
	}
	if levels, ok := c.parkLevels(o.topic); ok && attempt <= levels {
		if _, parks := c.transport.(RetryParker); parks {
			return c.park(ctx, group, d, o, m, attempt, delays[attempt-1], err)
		}
	}
	c.stats.topic(m.Topic).retries.Add(1)
	c.firsts.note(group, d, time.Now().UTC())
	at := time.Now().Add(delays[attempt-1])
	c.log.WarnContext(ctx, "handler failed; retry scheduled",
		"event_id", m.Header.EventID, "event_name", m.Header.EventName, "tenant_id", m.Header.TenantID,
		"trace_id", m.Header.TraceID, "position", d.ID, "attempt", attempt, "retry_in", delays[attempt-1], "error", err)
	return &DelayError{Until: at, Err: err}
}

// check decodes a delivery and holds it against the catalog; topic is
// where the event was published (a parked record's original topic).
func (c *Client) check(ctx context.Context, d *Delivery, topic string) (*Message, *rejection) {
	dec, err := codec.Decode(d.Record)
	if err != nil {
		return nil, &rejection{KindDecode, err}
	}
	hd := dec.Envelope.Header
	e, err := c.cat.Event(hd.EventName)
	if err != nil {
		return nil, &rejection{KindUnknown, err}
	}
	if e.Topic != topic {
		return nil, &rejection{KindMismatch, fmt.Errorf("event %s arrived on topic %q; its topic is %q", e.Name, topic, e.Topic)}
	}
	sv, err := c.ids.SchemaVersion(ctx, dec.SchemaID)
	if err != nil {
		return nil, &rejection{KindUnknown, err}
	}
	if sv.Event != e.Name || sv.Version != hd.Version {
		return nil, &rejection{KindMismatch, fmt.Errorf("schema id %d is %s %s but the header says %s %s",
			dec.SchemaID, sv.Event, sv.Version, e.Name, hd.Version)}
	}
	if hd.Schema != e.SchemaName {
		return nil, &rejection{KindMismatch, fmt.Errorf("header schema %q, catalog has %q for %s", hd.Schema, e.SchemaName, e.Name)}
	}
	// PII fields travel encrypted (spec §9). A client with the keys
	// validates the payload once, decrypted (secure); one without validates
	// it with ciphertext in place of the PII fields.
	validate := c.validator.ValidateKey
	piiFields := e.Version(hd.Version).PII // the schema id check found the version
	enc, encrypted := lookupHeader(dec.Extra, codec.HeaderEncryption)
	switch {
	case encrypted && enc != pii.HeaderValue:
		return nil, &rejection{KindDecrypt, fmt.Errorf("%s %q: unknown encryption", codec.HeaderEncryption, enc)}
	case encrypted && c.pii != nil:
		validate = nil
	case encrypted:
		validate = c.validator.ValidateKeyEncrypted
	case !c.plaintextPII && len(piiFields) > 0:
		return nil, &rejection{KindPlaintext, fmt.Errorf("%s %s carries PII fields %v without %s: they are plaintext",
			e.Name, hd.Version, piiFields, codec.HeaderEncryption)}
	}
	if validate != nil {
		if rej := c.validatePayload(validate, e, hd, dec.Envelope.Payload); rej != nil {
			return nil, rej
		}
	}
	return &Message{
		Envelope: dec.Envelope, SchemaID: dec.SchemaID, Topic: topic, Partition: d.Partition,
		Offset: d.Offset, ID: d.ID, Attempt: d.Attempt, Timestamp: d.Timestamp, Headers: dec.Extra,
		Encrypted: encrypted, event: e, hasPII: len(piiFields) > 0,
	}, nil
}

// validatePayload validates payload and checks that its partition key is
// the header's tenant.
func (c *Client) validatePayload(validate func(string, string, []byte) (string, error), e *catalog.Event, hd event.Header, payload []byte) *rejection {
	key, err := validate(e.Name, hd.Version, payload)
	if err != nil {
		return &rejection{KindSchema, err}
	}
	if key != hd.TenantID {
		return &rejection{KindMismatch, fmt.Errorf("payload %s does not match the header's tenant_id %s", e.PartitionKey, hd.TenantID)}
	}
	return nil
}

var errPanicked = errors.New("handler panicked")

// callHandler turns a panic into an error: one bad event must not take the
// consumer, and every other tenant's events, down with it.
func callHandler(ctx context.Context, h Handler, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanicked, r, debug.Stack())
		}
	}()
	return h(ctx, m)
}

// maxErrorHeader bounds the error text in a dead letter's header.
const maxErrorHeader = 1024

// deadLetter writes the record, untouched, to its topic's dead-letter topic
// with headers that say where it came from and why it failed. Only when that
// write succeeded is the delivery acknowledged; otherwise it stays pending
// and comes back.
func (c *Client) deadLetter(ctx context.Context, group string, d *Delivery, o origin, rej *rejection) error {
	attempt := o.failed + 1
	if !o.parked && attempt > 1 {
		if first := c.firsts.take(group, d); !first.IsZero() {
			o.firstFailure = event.FormatTimestamp(first)
		}
	}
	rec := failureRecord(d, DLQTopic(o.topic), o, group, rej.kind, rej.err.Error(), attempt, time.Now().UTC())
	if err := c.transport.Send(ctx, rec); err != nil {
		return fmt.Errorf("dead-letter %s to %s: %w", d.ID, rec.Topic, err)
	}
	c.stats.deadLetter(o.topic, rej.kind)
	msg, _ := rec.Header(codec.HeaderErrorMessage)
	c.log.ErrorContext(ctx, "event dead-lettered", "position", d.ID, "dlq", rec.Topic,
		"error_kind", rej.kind, "error", string(msg))
	return nil
}

// DLQTopic names the dead-letter topic of topic (spec §8).
func DLQTopic(topic string) string { return topic + ".dlq" }

func hdr(k, v string) codec.Header { return codec.Header{Key: k, Value: []byte(v)} }

// clipUTF8 cuts s to at most n bytes without splitting a character.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
