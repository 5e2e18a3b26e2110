package redisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/keyed"
)

// Consume reads sub.Topics as consumer sub.Group until ctx ends; see the
// package documentation for how entries are read, ordered, acknowledged,
// redelivered and reclaimed. It returns nil after ctx ended and in-flight
// handlers finished, or an error Redis keeps returning that retrying cannot
// fix (WRONGTYPE, authentication, permissions).
func (t *Transport) Consume(ctx context.Context, sub bus.Subscription, h bus.DeliveryHandler) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if sub.Group == "" || len(sub.Topics) == 0 || slices.Contains(sub.Topics, "") || h == nil {
		return errors.New("redisstream: consume: a group, at least one (non-empty) topic and a handler are required")
	}
	sub = sub.WithDefaults()
	topics := slices.Compact(slices.Sorted(slices.Values(sub.Topics)))
	release, err := t.reserveReaders(len(topics))
	if err != nil {
		return err
	}
	defer release()
	consumer, done := t.consumerName(sub.Group)
	defer done()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// window bounds the entries with data one stream keeps in memory before
	// it reads more; limit bounds those handed to the pool, so that neither
	// the pool's queues nor the results channel can ever fill up and block.
	window := max(2*t.cfg.Count, 2*sub.Concurrency)
	limit := window + t.cfg.Count
	pool := keyed.New(sub.Concurrency, limit*len(topics))
	defer pool.Close()

	log := t.cfg.Logger.With("group", sub.Group, "consumer", consumer)
	hctx := context.WithoutCancel(ctx) // handlers finish after ctx ends
	errs := make([]error, len(topics))
	var wg sync.WaitGroup
	for i, topic := range topics {
		s := &streamConsumer{
			rdb: t.rdb, cfg: t.cfg, sub: sub, h: h, hctx: hctx, pool: pool,
			topic: topic, stream: t.Stream(topic), group: sub.Group, consumer: consumer,
			log:    log.With("stream", t.Stream(topic)),
			window: window, limit: limit,
		}
		wg.Go(func() {
			if err := s.run(runCtx); err != nil {
				errs[i] = fmt.Errorf("redisstream: consume %s as %s/%s: %w", s.stream, s.group, s.consumer, err)
				stop() // one stream failing ends the whole subscription
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reserveReaders counts n more blocking readers against the client's pool,
// or refuses them when fewer than PoolReserve connections would be left:
// readers waiting for connections held by other readers' blocking reads
// would starve each other (and every send and acknowledgement) silently.
func (t *Transport) reserveReaders(n int) (release func(), err error) {
	size := t.poolSize()
	t.mu.Lock()
	defer t.mu.Unlock()
	if size > 0 && t.readers+n+PoolReserve > size {
		return nil, fmt.Errorf("%w: consuming %d streams (with %d already read) needs %d connections while their reads block, plus %d free; the client's pool has %d: raise Config.PoolSize (or the pool of Config.Client)",
			ErrConfig, n, t.readers, t.readers+n, PoolReserve, size)
	}
	t.readers += n
	return func() {
		t.mu.Lock()
		t.readers -= n
		t.mu.Unlock()
	}, nil
}

// poolSize is the connection limit of the client, or 0 when it does not say
// (a cluster client pools per node).
func (t *Transport) poolSize() int {
	if o, ok := t.rdb.(interface{ Options() *redis.Options }); ok && o.Options() != nil {
		return o.Options().PoolSize
	}
	return 0
}

// streamConsumer consumes one stream for one Consume call. Two goroutines
// run it: read fetches entries (the consumer's own pending ones first, then
// reclaimed and new ones) and sends them to loop, which owns all the state,
// hands entries to the pool and acknowledges them.
type streamConsumer struct {
	rdb                            redis.UniversalClient
	cfg                            Config
	sub                            bus.Subscription
	h                              bus.DeliveryHandler
	hctx                           context.Context
	pool                           *keyed.Pool
	topic, stream, group, consumer string
	log                            *slog.Logger
	window, limit                  int

	batches chan batch  // read → loop; closed when read returns
	results chan result // workers → loop; capacity limit
	// stopping is set when shutdown begins: entries still queued in the
	// pool then come back unstarted, and are released to the group.
	stopping atomic.Bool

	reader readerState // owned by read
	state  loopState   // owned by loop
}

func (s *streamConsumer) run(ctx context.Context) error {
	s.batches = make(chan batch)
	s.results = make(chan result, s.limit)
	s.state.init()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var readErr error
	readDone := make(chan struct{})
	go func() { // owned by run: loop waits for s.batches to close
		defer close(readDone)
		defer close(s.batches)
		readErr = s.read(readCtx)
	}()
	loopErr := s.loop(ctx, stopReading)
	<-readDone
	return errors.Join(readErr, loopErr)
}

// handle runs in a pool worker. Entries of one key reach the same worker in
// the order loop dispatched them, so when one fails, the blocked flag it sets
// is seen by every later entry of that key already queued: they return
// unhandled ("skipped") and wait in loop for the failed one. After the
// context ended, nothing queued starts any more.
func (s *streamConsumer) handle(it *item) {
	ks := it.ks
	if s.stopping.Load() || !it.retry && ks.blocked.Load() {
		s.results <- result{it: it, skipped: true}
		return
	}
	err := s.call(&bus.Delivery{
		Record: it.rec, Partition: 0, Offset: -1, ID: it.id, Attempt: it.attempt, Timestamp: it.ts,
	})
	if err != nil {
		ks.blocked.Store(true)
	} else if it.retry {
		ks.blocked.Store(false)
	}
	s.results <- result{it: it, err: err}
}

// call runs the handler; a panic becomes an error (the entry stays pending
// and comes back) instead of taking every other key down with it.
func (s *streamConsumer) call(d *bus.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("redisstream: delivery handler panicked: %v", r)
			s.log.Error("delivery handler panicked; the entry will be delivered again",
				"id", d.ID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return s.h(s.hctx, d)
}

// Timing of the periodic work, derived from the config.
func (s *streamConsumer) renewEvery() time.Duration { return s.cfg.ClaimIdle / 3 }

func (s *streamConsumer) claimEvery() time.Duration {
	return min(max(s.cfg.ClaimIdle/4, 10*time.Millisecond), 5*time.Second)
}
