package bus

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/inopsio/spine/codec"
)

// W3C Trace Context travels in the traceparent/tracestate record headers.
var traceContext propagation.TraceContext

// headerCarrier adapts record headers to OpenTelemetry propagation.
type headerCarrier struct{ hs *[]codec.Header }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.hs {
		if h.Key == key {
			(*c.hs)[i].Value = []byte(value)
			return
		}
	}
	*c.hs = append(*c.hs, codec.Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.hs))
	for i, h := range *c.hs {
		keys[i] = h.Key
	}
	return keys
}

// Attribute names from the OpenTelemetry messaging conventions (v1.28+).
const (
	attrSystem      = "messaging.system"
	attrDestination = "messaging.destination.name"
	attrOperation   = "messaging.operation.type"
	attrGroup       = "messaging.consumer.group.name"
	attrMessageID   = "messaging.message.id"
	attrPartition   = "messaging.destination.partition.id"
)

// startSend starts the PRODUCER span of one event. Without an SDK and
// without a parent the span has no context of its own; one is made up then,
// so trace_id and traceparent still tie the whole life of the event together.
func (c *Client) startSend(ctx context.Context, topic string) (context.Context, trace.Span) {
	if !c.tracing {
		// No spans are recorded: only the context that carries the trace
		// is needed, without the cost of starting a span per event.
		parent := trace.SpanContextFromContext(ctx)
		tid := parent.TraceID()
		if !parent.IsValid() {
			tid = randomTraceID()
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: randomSpanID(), TraceFlags: parent.TraceFlags()})
		ctx = trace.ContextWithSpanContext(ctx, sc)
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := c.tracer.Start(ctx, "send "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String(attrSystem, "kafka"),
			attribute.String(attrDestination, topic),
			attribute.String(attrOperation, "send"),
		))
	if !span.SpanContext().IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: randomTraceID(), SpanID: randomSpanID(),
		}))
	}
	return ctx, span
}

// startProcess starts the CONSUMER span of one delivery, as a child of the
// producer's context from traceparent, or at least in the trace named by the
// trace_id header.
func (c *Client) startProcess(ctx context.Context, m *Message, group string) (context.Context, trace.Span) {
	hs := m.Headers
	ctx = traceContext.Extract(ctx, headerCarrier{&hs})
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if tid, err := trace.TraceIDFromHex(m.Header.TraceID); err == nil {
			ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: randomSpanID(), Remote: true,
			}))
		}
	}
	return c.tracer.Start(ctx, "process "+m.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String(attrSystem, "kafka"),
			attribute.String(attrDestination, m.Topic),
			attribute.String(attrOperation, "process"),
			attribute.String(attrGroup, group),
			attribute.String(attrMessageID, m.Header.EventID),
			attribute.Int(attrPartition, int(m.Partition)),
		))
}

// Trace and span ids come from math/rand/v2, as in the OpenTelemetry SDK's
// default id generator: they must be unique, not secret, and crypto/rand
// cost a tenth of the publish path.
func randomTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func randomSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
