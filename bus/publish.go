package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/payload"
	"github.com/inopsio/spine/pii"
)

// Published reports one sent event.
type Published struct {
	Header   event.Header
	Topic    string
	SchemaID int
}

// Publish validates every event, then sends them all. An invalid event fails
// the call before anything is sent, with an error naming the event and each
// violation (errors.Is event.ErrInvalid). Events are sent in order; events
// of one tenant and topic are delivered in that order.
func (c *Client) Publish(ctx context.Context, events ...Outgoing) ([]Published, error) {
	recs := make([]codec.Record, 0, len(events))
	out := make([]Published, 0, len(events))
	var auth string
	if c.tokens != nil {
		var err error
		if auth, err = c.tokens.Header(ctx); err != nil {
			return nil, fmt.Errorf("publish: service token: %w", err)
		}
	}
	var audited []audit.Entry
	for i, o := range events {
		rec, pub, hasPII, err := c.prepare(ctx, o, auth)
		if err != nil {
			if len(events) > 1 {
				err = fmt.Errorf("event %d of %d: %w", i+1, len(events), err)
			}
			return nil, err
		}
		recs = append(recs, rec)
		out = append(out, pub)
		if hasPII {
			audited = append(audited, audit.Entry{EventID: pub.Header.EventID, EventName: pub.Header.EventName,
				TenantID: pub.Header.TenantID, Detail: detailJSON("topic", pub.Topic)})
		}
	}
	if err := c.transport.Send(ctx, recs...); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	// After the send: the trail records what reached the broker. A failed
	// write is reported, though the events are out.
	if err := c.auditPII(ctx, "event.publish", "published", audited...); err != nil {
		return out, fmt.Errorf("publish: events sent, but %w", err)
	}
	return out, nil
}

// prepare builds the record of one event: catalog, grant, validation,
// header, PII encryption, token, trace, framing. hasPII reports whether the
// event's schema version has PII fields.
func (c *Client) prepare(ctx context.Context, o Outgoing, auth string) (rec codec.Record, pub Published, hasPII bool, err error) {
	e, err := c.cat.Event(o.Event)
	if err != nil {
		return rec, pub, false, fmt.Errorf("publish: %w", err)
	}
	source := e.Source
	if c.source != "" && c.source != e.Source {
		return rec, pub, false, &GrantError{Event: e.Name, Source: c.source, Producer: e.Source}
	}
	version := o.Version
	if version == "" {
		version = e.Current().Version
	}
	sv := e.Version(version)
	hasPII = sv != nil && len(sv.PII) > 0
	if hasPII && c.pii == nil && !c.plaintextPII {
		return rec, pub, true, fmt.Errorf("publish %s: %w", e.Name, ErrPlaintextPII)
	}
	for _, h := range o.Headers {
		if h.Key == codec.HeaderEncryption || (h.Key == codec.HeaderAuthorization && c.tokens != nil) {
			return rec, pub, hasPII, fmt.Errorf("publish %s: header %q is the client's to set", e.Name, h.Key)
		}
	}
	// Validation runs on the plaintext, before encryption.
	key, err := c.validator.ValidateKey(e.Name, version, o.Payload)
	if err != nil {
		return rec, pub, hasPII, fmt.Errorf("publish: %w", err)
	}
	id, err := c.ids.SchemaID(ctx, e.Name, version)
	if err != nil {
		return rec, pub, hasPII, fmt.Errorf("publish: %w", err)
	}

	ctx, span := c.startSend(ctx, e.Topic)
	defer span.End()
	h := event.Header{
		EventID:   o.EventID,
		EventName: e.Name,
		Source:    source,
		Timestamp: o.Timestamp.UTC(),
		TenantID:  key,
		TraceID:   trace.SpanContextFromContext(ctx).TraceID().String(),
		Version:   version,
		Schema:    e.SchemaName,
	}
	if h.EventID == "" {
		h.EventID = event.NewEventID()
	}
	if o.Timestamp.IsZero() {
		h.Timestamp = time.Now().UTC()
	}
	body := o.Payload
	extra := make([]codec.Header, 0, len(o.Headers)+4)
	extra = append(extra, o.Headers...)
	if hasPII && c.pii != nil {
		if body, err = c.pii.Encrypt(ctx, e.Name, version, key, h.EventID, o.Payload); err != nil {
			span.SetStatus(codes.Error, err.Error())
			return rec, pub, hasPII, fmt.Errorf("publish %s: encrypt PII: %w", e.Name, err)
		}
		extra = append(extra, codec.Header{Key: codec.HeaderEncryption, Value: []byte(pii.HeaderValue)})
	}
	if auth != "" {
		extra = append(extra, codec.Header{Key: codec.HeaderAuthorization, Value: []byte(auth)})
	}
	traceContext.Inject(ctx, headerCarrier{&extra})
	// Encode validates the header: the one check of fields a caller set.
	rec, err = codec.Encode(e.Topic, event.Envelope{Header: h, Payload: body}, id, extra...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return rec, pub, hasPII, fmt.Errorf("publish: %w", err)
	}
	return rec, Published{Header: h, Topic: e.Topic, SchemaID: id}, hasPII, nil
}

// Publish sends one typed payload; its event name comes from its type.
func Publish[T payload.Payload](ctx context.Context, p Publisher, v T, headers ...codec.Header) (Published, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Published{}, fmt.Errorf("publish %s: encode payload: %w", v.EventName(), err)
	}
	out, err := p.Publish(ctx, Outgoing{Event: v.EventName(), Version: v.SchemaVersion(), Payload: b, Headers: headers})
	if err != nil {
		return Published{}, err
	}
	return out[0], nil
}
