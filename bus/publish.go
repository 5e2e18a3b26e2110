package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
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
	if err := c.validator.Validate(e.Name, version, o.Payload); err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}
	key, err := topLevelString(o.Payload, e.PartitionKey)
	if err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish %s: partition key: %w", e.Name, err)
	}
	id, err := c.ids.SchemaID(ctx, e.Name, version)
	if err != nil {
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}

	ctx, span := c.startSend(ctx, e.Topic)
	defer span.End()
	sc := trace.SpanContextFromContext(ctx)
	h, err := event.NewHeader(event.Header{
		EventID:   o.EventID,
		EventName: e.Name,
		Source:    source,
		Timestamp: o.Timestamp,
		TenantID:  key,
		TraceID:   sc.TraceID().String(),
		Version:   version,
		Schema:    e.SchemaName,
	})
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return codec.Record{}, Published{}, fmt.Errorf("publish: %w", err)
	}
	extra := make([]codec.Header, 0, len(o.Headers)+2)
	extra = append(extra, o.Headers...)
	traceContext.Inject(ctx, headerCarrier{&extra})
	rec, err := codec.Encode(e.Topic, event.Envelope{Header: h, Payload: o.Payload}, id, extra...)
	if err != nil {
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

// errNoKey is wrapped when the partition key is missing or not a string.
var errNoKey = errors.New("missing or not a string")

// topLevelString reads one top-level string member without decoding the
// rest. The payload was validated, so the key is there as a string.
func topLevelString(payload []byte, name string) (string, error) {
	d := jsontext.NewDecoder(bytes.NewReader(payload))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", fmt.Errorf("%q: %w", name, errNoKey)
	}
	for d.PeekKind() == '"' {
		k, err := d.ReadToken()
		if err != nil {
			break
		}
		if k.String() != name {
			if err := d.SkipValue(); err != nil {
				break
			}
			continue
		}
		v, err := d.ReadToken()
		if err != nil || v.Kind() != '"' {
			break
		}
		return v.String(), nil
	}
	return "", fmt.Errorf("%q: %w", name, errNoKey)
}
