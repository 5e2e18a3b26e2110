package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/codec"
)

// ErrClosed is returned by calls on a closed Transport.
var ErrClosed = errors.New("kafka: transport closed")

// Transport is the Kafka transport. It speaks the Kafka protocol through
// franz-go, so one code path serves Apache Kafka and the embedded broker of
// `spine dev`. It is safe for concurrent use.
type Transport struct {
	cfg      Config
	ns       namespace
	log      *slog.Logger
	producer *kgo.Client
	admin    *kadm.Client

	// stop ends every running Consume when the transport closes, before
	// the producer they may still need (dead letters) goes away.
	stop      context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex // guards closed and the Add side of consumers
	closed    bool
	consumers sync.WaitGroup
}

var _ bus.Transport = (*Transport)(nil)

// New returns a transport for cfg. It does not dial: the first Send,
// Consume or EnsureTopics connects, so a transport can be built before the
// cluster is reachable.
func New(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == nil && strings.EqualFold(cfg.SASL.Mechanism, "PLAIN") {
		cfg.Logger.Warn("kafka: SASL PLAIN without TLS sends the password in the clear; set Config.TLS outside a trusted network",
			"brokers", cfg.Brokers, "user", cfg.SASL.User)
	}
	cl, err := kgo.NewClient(cfg.producerOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka: producer: %w", err)
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Transport{
		cfg:      cfg,
		ns:       namespace(cfg.Namespace),
		log:      cfg.Logger,
		producer: cl,
		admin:    kadm.NewClient(cl),
		stop:     stop,
		cancel:   cancel,
	}, nil
}

// Namespace returns the prefix the transport puts on topic and group names.
func (t *Transport) Namespace() string { return string(t.ns) }

// Send produces recs and waits until every one is acknowledged by all
// in-sync replicas (acks=all, idempotent producer: a retry never writes a
// record twice). Records of one key go to one partition — murmur2 of the
// key, as the Java client and kafkajs' default partitioner compute it — in
// the order given.
func (t *Transport) Send(ctx context.Context, recs ...codec.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if t.isClosed() {
		return ErrClosed
	}
	return t.produceErr(t.producer.ProduceSync(ctx, toKgo(t.ns, recs)...))
}

// produceErr reports the failed records of a ProduceSync, naming the topic.
func (t *Transport) produceErr(res kgo.ProduceResults) error {
	var first error
	failed := 0
	for _, r := range res {
		if r.Err == nil {
			continue
		}
		if first == nil {
			first = fmt.Errorf("produce to %s: %w", t.topicName(r.Record.Topic), r.Err)
		}
		failed++
	}
	switch {
	case failed == 0:
		return nil
	case len(res) == 1:
		return fmt.Errorf("kafka: %w", first)
	}
	return fmt.Errorf("kafka: %d of %d records not written; first: %w", failed, len(res), first)
}

// topicName names a wire topic for humans: the logical name, and the wire
// name when a namespace makes them differ.
func (t *Transport) topicName(wire string) string {
	if t.ns == "" {
		return wire
	}
	return fmt.Sprintf("%s (%s)", t.ns.logical(wire), wire)
}

// Close stops running consumers — they finish their in-flight handlers and
// commit, as when their context ends — and then closes the producer; a Send
// still waiting fails. Calls after Close fail with ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.consumers.Wait()
	t.producer.Close()
	return nil
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// track registers a running consumer; it fails once the transport closed.
func (t *Transport) track() (done func(), err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	t.consumers.Add(1)
	return t.consumers.Done, nil
}
