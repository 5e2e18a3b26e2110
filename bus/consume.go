package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// Subscribe consumes sub's topics and calls h for every event, until ctx
// ends; then in-flight handlers finish and their positions are committed.
//
// Before h sees an event, the record is decoded and checked: a known event
// on its own topic, a schema id that is that event's version, a payload
// valid under it and carrying the header's tenant. A record failing any
// check — and an event whose handler fails permanently or panics — is
// written to "<topic>.dlq" with the reason and then acknowledged: nothing is
// dropped, nothing blocks the partition.
func (c *Client) Subscribe(ctx context.Context, sub Subscription, h Handler) error {
	if sub.Group == "" || len(sub.Topics) == 0 {
		return errors.New("subscribe: a group and at least one topic are required")
	}
	return c.transport.Consume(ctx, sub, func(ctx context.Context, d *Delivery) error {
		return c.handle(ctx, sub.Group, d, h)
	})
}

// rejection is a record that can never be handled.
type rejection struct {
	kind string
	err  error
}

func (c *Client) handle(ctx context.Context, group string, d *Delivery, h Handler) error {
	m, rej := c.check(ctx, d)
	if rej != nil {
		return c.deadLetter(ctx, group, d, rej)
	}
	ctx, span := c.startProcess(ctx, m, group)
	defer span.End()
	ctx = withHeader(ctx, m.Header)

	err := callHandler(ctx, h, m)
	switch {
	case err == nil:
		c.stats.topic(m.Topic).handled.Add(1)
		return nil
	case errors.Is(err, errPanicked):
		span.SetStatus(codes.Error, err.Error())
		return c.deadLetter(ctx, group, d, &rejection{KindPanic, err})
	case IsPermanent(err):
		span.SetStatus(codes.Error, err.Error())
		return c.deadLetter(ctx, group, d, &rejection{KindHandler, err})
	default:
		span.SetStatus(codes.Error, err.Error())
		return c.retry(ctx, group, d, m, err)
	}
}

// retry schedules the next attempt of a failed event on its catalog
// schedule (spec §8: 0.5 s, 2 s, 8 s, 32 s) and dead-letters it once the
// schedule is spent. The transport holds the event's key meanwhile, so no
// later event of the tenant overtakes it.
func (c *Client) retry(ctx context.Context, group string, d *Delivery, m *Message, err error) error {
	delays := c.retryDelays
	if delays == nil {
		e, _ := c.cat.Lookup(m.Header.EventName) // check found it
		delays = e.Retry.Delays
	}
	attempt := max(d.Attempt, 1)
	if attempt > len(delays) {
		return c.deadLetter(ctx, group, d, &rejection{KindHandler,
			fmt.Errorf("gave up after %d attempts (%d retries): %w", attempt, len(delays), err)})
	}
	c.stats.topic(m.Topic).retries.Add(1)
	at := time.Now().Add(delays[attempt-1])
	c.log.WarnContext(ctx, "handler failed; retry scheduled",
		"event_id", m.Header.EventID, "event_name", m.Header.EventName, "tenant_id", m.Header.TenantID,
		"trace_id", m.Header.TraceID, "position", d.ID, "attempt", attempt, "retry_in", delays[attempt-1], "error", err)
	return &DelayError{Until: at, Err: err}
}

// check decodes a delivery and holds it against the catalog.
func (c *Client) check(ctx context.Context, d *Delivery) (*Message, *rejection) {
	dec, err := codec.Decode(d.Record)
	if err != nil {
		return nil, &rejection{KindDecode, err}
	}
	hd := dec.Envelope.Header
	e, err := c.cat.Event(hd.EventName)
	if err != nil {
		return nil, &rejection{KindUnknown, err}
	}
	if e.Topic != d.Record.Topic {
		return nil, &rejection{KindMismatch, fmt.Errorf("event %s arrived on topic %q; its topic is %q", e.Name, d.Record.Topic, e.Topic)}
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
	key, err := c.validator.ValidateKey(e.Name, hd.Version, dec.Envelope.Payload)
	if err != nil {
		return nil, &rejection{KindSchema, err}
	}
	if key != hd.TenantID {
		return nil, &rejection{KindMismatch, fmt.Errorf("payload %s does not match the header's tenant_id %s", e.PartitionKey, hd.TenantID)}
	}
	return &Message{
		Envelope: dec.Envelope, SchemaID: dec.SchemaID, Topic: d.Record.Topic, Partition: d.Partition,
		Offset: d.Offset, ID: d.ID, Attempt: d.Attempt, Timestamp: d.Timestamp, Headers: dec.Extra,
	}, nil
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
func (c *Client) deadLetter(ctx context.Context, group string, d *Delivery, rej *rejection) error {
	now := time.Now().UTC()
	// Handler errors can carry any bytes; header values must be UTF-8.
	msg := clipUTF8(strings.ToValidUTF8(rej.err.Error(), "\uFFFD"), maxErrorHeader)
	position := strconv.FormatInt(d.Offset, 10)
	if d.Offset < 0 {
		position = d.ID // Redis: the stream entry id; streams have no partitions
	}
	ts := event.FormatTimestamp(now)
	rec := d.Record
	rec.Topic = DLQTopic(d.Record.Topic)
	rec.Headers = append(append(make([]codec.Header, 0, len(d.Record.Headers)+10), d.Record.Headers...),
		hdr(codec.HeaderOriginalTopic, d.Record.Topic),
		hdr(codec.HeaderOriginalOffset, position),
		hdr(codec.HeaderOriginalTimestamp, event.FormatTimestamp(d.Timestamp)),
		hdr(codec.HeaderConsumerGroup, group),
		hdr(codec.HeaderErrorKind, rej.kind),
		hdr(codec.HeaderErrorMessage, msg),
		hdr(codec.HeaderAttempt, strconv.Itoa(max(d.Attempt, 1))),
		hdr(codec.HeaderFirstFailure, ts),
		hdr(codec.HeaderLastFailure, ts),
	)
	if d.Offset >= 0 {
		rec.Headers = append(rec.Headers, hdr(codec.HeaderOriginalPartition, strconv.Itoa(int(d.Partition))))
	}
	if err := c.transport.Send(ctx, rec); err != nil {
		return fmt.Errorf("dead-letter %s to %s: %w", d.ID, rec.Topic, err)
	}
	c.stats.deadLetter(d.Record.Topic, rej.kind)
	c.log.ErrorContext(ctx, "event dead-lettered", "position", d.ID, "dlq", rec.Topic,
		"error_kind", rej.kind, "error", msg)
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
