package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// The benchmarks compare Spine with plain franz-go on the same broker, in
// one run: publishing (validation, encoding, send) against ProduceSync of
// the very records Spine produces, and consuming (decode, validation,
// per-key dispatch, commit per poll) against a plain group consumer with
// franz-go's default autocommit. "spine-transport" is the transport alone,
// under bus.Client, to tell the transport's cost from the client's;
// "spine" sends lead.created's PII fields in plaintext (bus.WithPlaintextPII)
// and "spine-secured" as production does: encrypted (AES-256-GCM under a
// tenant key), with a service token on every record, checked on consume. Each
// consume iteration is a new group reading benchConsume events from the
// start, join included. Run:
//
//	eval "$(scripts/services.sh env)"
//	go test -run '^$' -bench . -benchtime 3s ./bus/kafka/

const (
	benchBatch   = 100   // events per Publish / ProduceSync call
	benchTenants = 20    // distinct keys
	benchConsume = 20000 // events per consume iteration
)

// capture is a transport that keeps what Spine would send.
type capture struct{ recs []codec.Record }

func (c *capture) Send(_ context.Context, recs ...codec.Record) error {
	c.recs = append(c.recs, recs...)
	return nil
}
func (*capture) Consume(context.Context, bus.Subscription, bus.DeliveryHandler) error {
	return errors.New("capture: no consuming")
}
func (*capture) Close() error { return nil }

func benchEvents(n int) []bus.Outgoing {
	ts := make([]string, benchTenants)
	for i := range ts {
		ts[i] = uuid.NewString()
	}
	return leads(ts, n)
}

// benchBackends runs fn per backend, each broker started (or reached) once.
func benchBackends(b *testing.B, fn func(b *testing.B, brokers []string)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { fn(b, be.brokers(b)) })
	}
}

func BenchmarkPublish(b *testing.B) {
	benchBackends(b, func(b *testing.B, brokers []string) {
		tr := newTransport(b, brokers, 3, "lead.created")
		c := newPlainClient(b, tr)
		sec := newBenchSecurity(b)
		secured := sec.producer(b, tr)
		events := benchEvents(benchBatch)

		// The records Spine produces for these events, byte for byte.
		cp := &capture{}
		cc := newPlainClient(b, cp)
		if _, err := cc.Publish(b.Context(), events...); err != nil {
			b.Fatal(err)
		}
		raw := rawClient(b, brokers, kafka.ProducerOpts(kafka.Config{Brokers: brokers, Logger: testLogger()})...)
		// Warm both producers and the broker (connections, producer ids, a
		// JVM's JIT) before anything is timed.
		for range 20 {
			if err := tr.Send(b.Context(), cp.recs...); err != nil {
				b.Fatal(err)
			}
		}
		template := make([]kgo.Record, len(cp.recs))
		for i, r := range cp.recs {
			hs := make([]kgo.RecordHeader, len(r.Headers))
			for j, h := range r.Headers {
				hs[j] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
			}
			template[i] = kgo.Record{Topic: tr.Namespace() + r.Topic, Key: r.Key, Value: r.Value, Headers: hs}
		}

		send := func(b *testing.B, recs []*kgo.Record) {
			for i := range template {
				r := template[i] // a fresh record per send, as Spine builds
				recs[i] = &r
			}
			if err := raw.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
		for range 20 {
			send(b, make([]*kgo.Record, len(template)))
		}

		b.Run("raw-franz-go", func(b *testing.B) {
			recs := make([]*kgo.Record, len(template))
			for b.Loop() {
				send(b, recs)
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
		})
		// The transport alone: Send of the records Spine built (mapping to
		// franz-go records, namespace, produce), without the client's work.
		b.Run("spine-transport", func(b *testing.B) {
			for b.Loop() {
				if err := tr.Send(b.Context(), cp.recs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
		})
		for name, c := range map[string]*bus.Client{"spine": c, "spine-secured": secured} {
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if _, err := c.Publish(b.Context(), events...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	})
}

func BenchmarkConsume(b *testing.B) {
	benchBackends(b, func(b *testing.B, brokers []string) {
		tr := newTransport(b, brokers, 3, "lead.created")
		c := newPlainClient(b, tr)
		// The secured events live in a namespace of their own.
		str := newTransport(b, brokers, 3, "lead.created")
		sec := newBenchSecurity(b)
		sp, sc := sec.producer(b, str), sec.consumer(b, str)
		events := benchEvents(benchBatch)
		for range benchConsume / benchBatch {
			if _, err := c.Publish(b.Context(), events...); err != nil {
				b.Fatal(err)
			}
			if _, err := sp.Publish(b.Context(), events...); err != nil {
				b.Fatal(err)
			}
		}
		topic := tr.Namespace() + "lead.created"
		group := 0

		b.Run("raw-franz-go", func(b *testing.B) {
			for b.Loop() {
				group++
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
					kgo.ConsumerGroup(fmt.Sprintf("%sraw-%d", tr.Namespace(), group)),
					kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < benchConsume; {
					fs := cl.PollFetches(b.Context())
					if err := fs.Err0(); err != nil {
						b.Fatal(err)
					}
					n += fs.NumRecords()
				}
				cl.Close()
			}
			b.ReportMetric(float64(b.N*benchConsume)/b.Elapsed().Seconds(), "events/s")
		})
		// The transport alone: the consumer group, per-key dispatch and
		// commits of Transport.Consume, without decoding or validation.
		b.Run("spine-transport", func(b *testing.B) {
			for b.Loop() {
				group++
				var n atomic.Int64
				ctx, cancel := context.WithCancel(b.Context())
				sub := bus.Subscription{Group: fmt.Sprintf("transport-%d", group), Topics: []string{"lead.created"}, FromBeginning: true}
				err := tr.Consume(ctx, sub, func(context.Context, *bus.Delivery) error {
					if n.Add(1) == benchConsume {
						cancel()
					}
					return nil
				})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchConsume)/b.Elapsed().Seconds(), "events/s")
		})
		for name, c := range map[string]*bus.Client{"spine": c, "spine-secured": sc} {
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					group++
					var n atomic.Int64
					ctx, cancel := context.WithCancel(b.Context())
					sub := bus.Subscription{Group: fmt.Sprintf("spine-%d", group), Topics: []string{"lead.created"}, FromBeginning: true}
					err := c.Subscribe(ctx, sub, func(_ context.Context, m *bus.Message) error {
						if m.Encrypted != (name == "spine-secured") {
							return bus.Permanent(errors.New("benchmark: wrong events"))
						}
						if n.Add(1) == benchConsume {
							cancel()
						}
						return nil
					})
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*benchConsume)/b.Elapsed().Seconds(), "events/s")
			})
		}
	})
}

// BenchmarkClientPrepare is bus.Client.Publish into a transport that only
// keeps the records: the client's own cost per event (catalog, validation,
// header, trace, encoding), without a broker and so without its noise.
func BenchmarkClientPrepare(b *testing.B) {
	cp := &capture{}
	sec := newBenchSecurity(b)
	for name, c := range map[string]*bus.Client{"plaintext": newPlainClient(b, cp), "secured": sec.producer(b, cp)} {
		b.Run(name, func(b *testing.B) {
			events := benchEvents(benchBatch)
			for b.Loop() {
				cp.recs = cp.recs[:0]
				if _, err := c.Publish(b.Context(), events...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/event")
		})
	}
}
