package bus_test

import (
	"context"
	"os"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
)

// One trace from publish to handling: trace_id is the active span's, the
// PRODUCER span is its child, and the CONSUMER span continues from the
// record's traceparent (OpenTelemetry messaging conventions).
func TestTraceFromPublishToHandler(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	client, err := bus.New(bustest.NewMemory(), bus.WithTracerProvider(tp), bus.WithPlaintextPII())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	parentCtx, parent := tp.Tracer("test").Start(ctx, "request")
	out, err := client.Publish(parentCtx, bus.Outgoing{Event: "lead.created", Payload: leadPayload(t)})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	traceID := parent.SpanContext().TraceID()
	if out[0].Header.TraceID != traceID.String() {
		t.Fatalf("trace_id = %s, want the active span's %s", out[0].Header.TraceID, traceID)
	}

	var handlerSpan trace.SpanContext
	err = client.Subscribe(ctx, bus.Subscription{Group: "g", Topics: []string{"lead.created"}, FromBeginning: true},
		func(ctx context.Context, m *bus.Message) error {
			handlerSpan = trace.SpanContextFromContext(ctx)
			cancel()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if handlerSpan.TraceID() != traceID {
		t.Fatalf("handler runs in trace %s, want %s", handlerSpan.TraceID(), traceID)
	}

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	send, process := spans["send lead.created"], spans["process lead.created"]
	if send == nil || process == nil {
		t.Fatalf("recorded spans %v, want send and process spans", spanNames(spans))
	}
	if send.SpanKind() != trace.SpanKindProducer || send.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("send span: kind %v, parent %v", send.SpanKind(), send.Parent().SpanID())
	}
	if process.SpanKind() != trace.SpanKindConsumer || process.Parent().SpanID() != send.SpanContext().SpanID() {
		t.Errorf("process span: kind %v, parent %v, want the send span %v", process.SpanKind(), process.Parent().SpanID(), send.SpanContext().SpanID())
	}
	if process.SpanContext().SpanID() != handlerSpan.SpanID() {
		t.Errorf("handler context is not the process span")
	}
}

// Without any tracer provider, trace_id and traceparent still tie the
// event's life together.
func TestTraceWithoutSDK(t *testing.T) {
	mem := bustest.NewMemory()
	client, err := bus.New(mem, bus.WithPlaintextPII())
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Publish(context.Background(), bus.Outgoing{Event: "lead.created", Payload: leadPayload(t)})
	if err != nil {
		t.Fatal(err)
	}
	recs := mem.Records("lead.created")
	tp, ok := recs[len(recs)-1].Header("traceparent")
	if !ok || string(tp[3:35]) != out[0].Header.TraceID {
		t.Fatalf("traceparent %q does not carry trace_id %s", tp, out[0].Header.TraceID)
	}
}

func spanNames(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func leadPayload(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../schema/testdata/spec/lead.created.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
