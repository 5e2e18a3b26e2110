package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/payload"
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
	for i, o := range events {
		rec, pub, err := c.prepare(ctx, o)
		if err != nil {
			if len(events) > 1 {
				err = fmt.Errorf("event %d of %d: %w", i+1, len(events), err)
			}
			return nil, err
		}
		recs = append(recs, rec)
		out = append(out, pub)
	}
	if err := c.transport.Send(ctx, recs...); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return out, nil
}

// prepare builds the record of one event: catalog, grant, validation,
// header, trace, framing.
func (c *Client) prepare(ctx context.Context, o Outgoing) (codec.Record, Published, error) {
	e, err := c.cat.Event(o.Event)
	if err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}
	source := e.Source
	if c.source != "" && c.source != e.Source {
		return codec.Record{}, Published{}, &GrantError{Event: e.Name, Source: c.source, Producer: e.Source}
	}
	version := o.Version
	if version == "" {
		version = e.Current().Version
	}
	key, err := c.validator.ValidateKey(e.Name, version, o.Payload)
	if err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}
	id, err := c.ids.SchemaID(ctx, e.Name, version)
	if err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
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
	extra := make([]codec.Header, 0, len(o.Headers)+2)
	extra = append(extra, o.Headers...)
	traceContext.Inject(ctx, headerCarrier{&extra})
	// Encode validates the header: the one check of fields a caller set.
	rec, err := codec.Encode(e.Topic, event.Envelope{Header: h, Payload: o.Payload}, id, extra...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}
	return rec, Published{Header: h, Topic: e.Topic, SchemaID: id}, nil
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
