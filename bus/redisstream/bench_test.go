package redisstream

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/bustest"
	"github.com/inopsio/spine/codec"
)

// Benchmarks against the real Redis (SPINE_TEST_REDIS): the transport and
// the full client next to go-redis doing the same work by hand, so the
// overhead of each layer shows as a ratio. Run:
//
//	go test -run '^$' -bench . -benchtime 20000x ./bus/redisstream/
//
// Each reports events/s; compare Raw* with the rest.

const (
	benchEvent   = "lead.created"
	benchTenants = 64
	benchBatch   = 100 // events per Publish / XADD pipeline
)

// capture is a Transport that keeps what bus.Client sends: the records a
// real publish would write, byte for byte.
type capture struct {
	mu   sync.Mutex
	recs []codec.Record
}

func (c *capture) Send(_ context.Context, recs ...codec.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *capture) Consume(context.Context, bus.Subscription, bus.DeliveryHandler) error { return nil }
func (c *capture) Close() error                                                         { return nil }

// benchEvents returns n valid events over benchTenants tenants and the
// records bus.Client makes of them.
func benchEvents(b *testing.B, n int) ([]bus.Outgoing, []codec.Record) {
	b.Helper()
	fx := bustest.LoadFixtures(b)
	tenants := bustest.Tenants(benchTenants)
	out := make([]bus.Outgoing, n)
	for i := range out {
		out[i] = fx.Event(b, benchEvent, tenants[i%len(tenants)])
	}
	var cp capture
	c, err := bus.New(&cp, bus.WithPlaintextPII())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += benchBatch {
		if _, err := c.Publish(context.Background(), out[i:min(i+benchBatch, n)]...); err != nil {
			b.Fatal(err)
		}
	}
	return out, cp.recs
}

func report(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "events/s")
}

// BenchmarkRawXAdd: go-redis XADD MAXLEN ~ of pre-built entries, pipelined
// benchBatch at a time — the floor under Send.
func BenchmarkRawXAdd(b *testing.B) {
	w := newWorld(b)
	_, recs := benchEvents(b, b.N)
	stream := w.stream(recs[0].Topic)
	args := make([]*redis.XAddArgs, len(recs))
	for i, r := range recs {
		args[i] = &redis.XAddArgs{Stream: stream, MaxLen: DefaultMaxLen, Approx: true, Values: EntryFields(r)}
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(args); i += benchBatch {
		pipe := w.rdb.Pipeline()
		for _, a := range args[i:min(i+benchBatch, len(args))] {
			pipe.XAdd(ctx, a)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	report(b, b.N, time.Since(start))
}

// BenchmarkSend: Transport.Send of the same records.
func BenchmarkSend(b *testing.B) {
	w := newWorld(b)
	tr := w.transport(Config{})
	_, recs := benchEvents(b, b.N)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(recs); i += benchBatch {
		if err := tr.Send(ctx, recs[i:min(i+benchBatch, len(recs))]...); err != nil {
			b.Fatal(err)
		}
	}
	report(b, b.N, time.Since(start))
}

// BenchmarkPublish: bus.Client.Publish of the same events: validation,
// header, trace context and encoding on top of Send.
func BenchmarkPublish(b *testing.B) {
	w := newWorld(b)
	c := newClientB(b, w.transport(Config{}))
	out, _ := benchEvents(b, b.N)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(out); i += benchBatch {
		if _, err := c.Publish(ctx, out[i:min(i+benchBatch, len(out))]...); err != nil {
			b.Fatal(err)
		}
	}
	report(b, b.N, time.Since(start))
}

func newClientB(b *testing.B, tr bus.Transport) *bus.Client {
	c, err := bus.New(tr, bus.WithPlaintextPII())
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// prefill writes b.N events to the stream before the timer starts.
func prefill(b *testing.B, w *world) string {
	b.Helper()
	_, recs := benchEvents(b, b.N)
	tr := w.transport(Config{})
	for i := 0; i < len(recs); i += 1000 {
		if err := tr.Send(context.Background(), recs[i:min(i+1000, len(recs))]...); err != nil {
			b.Fatal(err)
		}
	}
	return recs[0].Topic
}

// BenchmarkRawReadAck: go-redis XREADGROUP (COUNT 128) + XACK of each batch,
// nothing else — the floor under Consume.
func BenchmarkRawReadAck(b *testing.B) {
	w := newWorld(b)
	topic := prefill(b, w)
	stream := w.stream(topic)
	ctx := context.Background()
	if err := w.rdb.XGroupCreate(ctx, stream, "g", "0").Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; {
		res, err := w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c",
			Streams: []string{stream, ">"}, Count: DefaultCount, Block: -1}).Result()
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, 0, DefaultCount)
		for _, m := range res[0].Messages {
			ids = append(ids, m.ID)
		}
		if err := w.rdb.XAck(ctx, stream, "g", ids...).Err(); err != nil {
			b.Fatal(err)
		}
		n += len(ids)
	}
	report(b, b.N, time.Since(start))
}

// BenchmarkConsume: Transport.Consume with a handler that does nothing:
// what the ordering, redelivery and acknowledgement machinery costs.
func BenchmarkConsume(b *testing.B) {
	w := newWorld(b)
	topic := prefill(b, w)
	tr := w.transport(Config{})
	var n atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	b.ResetTimer()
	start := time.Now()
	var elapsed time.Duration
	go func() {
		for n.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		elapsed = time.Since(start)
		cancel()
		close(done)
	}()
	err := tr.Consume(ctx, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true},
		func(context.Context, *bus.Delivery) error {
			n.Add(1)
			return nil
		})
	<-done
	if err != nil {
		b.Fatal(err)
	}
	report(b, b.N, elapsed)
}

// BenchmarkSubscribe: bus.Client.Subscribe of the same events: decoding,
// catalog and schema checks, tracing on top of Consume.
func BenchmarkSubscribe(b *testing.B) {
	w := newWorld(b)
	topic := prefill(b, w)
	c := newClientB(b, w.transport(Config{}))
	var n atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	b.ResetTimer()
	start := time.Now()
	var elapsed time.Duration
	go func() {
		for n.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		elapsed = time.Since(start)
		cancel()
		close(done)
	}()
	err := c.Subscribe(ctx, bus.Subscription{Group: "g", Topics: []string{topic}, FromBeginning: true},
		func(context.Context, *bus.Message) error {
			n.Add(1)
			return nil
		})
	<-done
	if err != nil {
		b.Fatal(err)
	}
	report(b, b.N, elapsed)
}
