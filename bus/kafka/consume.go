package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/keyed"
)

// BatchHandler handles the records one poll fetched from one partition, in
// offset order. A nil return acknowledges all of them; an error has all of
// them delivered again after the redelivery delay.
type BatchHandler func(ctx context.Context, ds []*bus.Delivery) error

// Consume delivers the records of sub.Topics to h as a member of sub.Group
// until ctx ends or the transport closes; see bus.Transport.
//
// Records are fetched in poll batches (at most Config.MaxPollRecords). Each
// record runs on a keyed worker pool (sub.Concurrency workers) keyed by
// topic, partition and record key, so the records of one key run one at a
// time in offset order while other keys run concurrently. When the whole
// batch is done, each partition's commit point moves past its longest
// prefix of handled records (commits go out asynchronously and are made
// durable before a partition moves to another member and when Consume
// returns).
//
// A failed record holds its key only (hold.go): it and the later records of
// its key wait in memory until its retry is due (the handler's
// bus.DelayError, else sub.RedeliveryDelay) and then run again, in order,
// the record with Attempt incremented; the partition's other keys keep
// flowing. The commit point stays at the oldest held record, so after a
// crash or a rebalance the held records — and the successes after them,
// again — are delivered by the next owner: delivery is at least once
// (handlers deduplicate by event_id). A handler's bus.NotDueError instead
// pauses the whole partition until then and rewinds it to the record: that
// is how a retry topic, whose records fall due in order, waits.
//
// Handlers run with a context that is not canceled when ctx ends: shutdown
// waits for in-flight handlers to finish, so handlers must bound their own
// work. Records not yet started when ctx ends are left for the next member.
// Attempt counts deliveries in this member's memory: after a rebalance or
// restart a record held in place starts again at Attempt 1 (bus.Client's
// parked retries carry their attempt in the record and are not affected).
func (t *Transport) Consume(ctx context.Context, sub bus.Subscription, h bus.DeliveryHandler) error {
	if h == nil {
		return errors.New("kafka: consume: nil handler")
	}
	return t.consume(ctx, sub, h, nil)
}

// ConsumeBatches is Consume for handlers that work on many records at once
// (bulk inserts, aggregation): each poll hands h the records of one
// partition as one slice, partitions concurrently up to sub.Concurrency. A
// failed batch is redelivered whole, from its first record, after
// sub.RedeliveryDelay; a record's Attempt counts the batches it was
// delivered in. The records are raw: unlike bus.Client.Subscribe nothing is
// decoded or validated and nothing is dead-lettered.
func (t *Transport) ConsumeBatches(ctx context.Context, sub bus.Subscription, h BatchHandler) error {
	if h == nil {
		return errors.New("kafka: consume: nil handler")
	}
	return t.consume(ctx, sub, nil, h)
}

// poolDepth is each worker's queue depth: enough to keep workers busy while
// the poll loop submits, small enough that Submit pushes back.
const poolDepth = 64

// commitTimeout bounds a commit, including the last one at shutdown.
const commitTimeout = 30 * time.Second

func (t *Transport) consume(ctx context.Context, sub bus.Subscription, h bus.DeliveryHandler, hb BatchHandler) error {
	if sub.Group == "" || len(sub.Topics) == 0 {
		return errors.New("kafka: consume: a group and at least one topic are required")
	}
	sub = sub.WithDefaults()
	done, err := t.track()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.stop, cancel)()

	c := &consumer{
		t: t, sub: sub, h: h, hb: hb,
		log:        t.log.With("group", sub.Group),
		deliveries: make(map[tp]map[int64]int),
		done:       make(map[tp]map[int64]struct{}),
		latest:     make(map[tp]kgo.EpochOffset),
		paused:     make(map[tp]pausedPart),
		held:       make(map[tp]map[string]*heldKey),
	}
	cl, err := kgo.NewClient(c.opts()...)
	if err != nil {
		return fmt.Errorf("kafka: consumer for group %s: %w", sub.Group, err)
	}
	c.cl = cl
	c.pool = keyed.New(sub.Concurrency, poolDepth)
	err = c.loop(ctx)
	c.commitFinal(ctx)
	c.pool.Close()
	// Close leaves the group, so the partitions move to another member at
	// once instead of after the session timeout.
	cl.CloseAllowingRebalance()
	return err
}

// consumer is one Consume call: a group member and its poll loop.
type consumer struct {
	t    *Transport
	sub  bus.Subscription
	h    bus.DeliveryHandler
	hb   BatchHandler
	log  *slog.Logger
	cl   *kgo.Client
	pool *keyed.Pool

	// mu guards the maps: the poll loop uses them, and the revoke
	// callback, on franz-go's goroutine, commits and forgets partitions.
	// deliveries and done hold only records past a commit point.
	mu         sync.Mutex
	deliveries map[tp]map[int64]int       // deliveries so far of records that will come again
	done       map[tp]map[int64]struct{}  // records that succeeded but come again
	paused     map[tp]pausedPart          // partitions waiting to be rewound
	held       map[tp]map[string]*heldKey // keys waiting out a retry delay, by record key
	latest     map[tp]kgo.EpochOffset     // commit point of each owned partition

	dirty    atomic.Bool // latest has points not yet sent
	inflight atomic.Bool // an asynchronous commit is out
}

func (c *consumer) opts() []kgo.Opt {
	start := kgo.NewOffset().AtEnd()
	if c.sub.FromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	cfg := c.t.cfg
	return append(cfg.commonOpts(),
		kgo.ConsumerGroup(c.t.ns.wire(c.sub.Group)),
		kgo.ConsumeTopics(c.t.ns.wireAll(c.sub.Topics)...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// Rebalances wait until a poll batch is handled; the revoke
		// callback then commits synchronously before the partitions move,
		// so no commit lands on a partition this member no longer owns.
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeStartOffset(start),
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.RebalanceTimeout(cfg.RebalanceTimeout),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.AdjustFetchOffsetsFn(c.adjustStart),
	)
}

// adjustStart starts the partitions of sub.FromBeginningTopics that the
// group never committed at their oldest record instead of at the end.
// franz-go hands partitions without a commit the start offset, whose
// position is negative (a sentinel); committed ones are ≥ 0.
func (c *consumer) adjustStart(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for _, topic := range c.sub.FromBeginningTopics {
		for p, o := range offsets[c.t.ns.wire(topic)] {
			if o.EpochOffset().Offset < 0 {
				offsets[c.t.ns.wire(topic)][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return offsets, nil
}

// loop polls, hands each batch to the handlers, commits, and repeats until
// ctx ends or a fatal fetch error.
func (c *consumer) loop(ctx context.Context) error {
	for {
		pollCtx, cancel := c.pollContext(ctx)
		fetches := c.cl.PollRecords(pollCtx, c.t.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			c.cl.AllowRebalance()
			return nil
		}
		fatal := c.fetchErrors(fetches)
		due := c.takeDue(time.Now())
		if fetches.NumRecords() > 0 || len(due) > 0 {
			c.handle(ctx, fetches, due)
		}
		c.cl.AllowRebalance()
		if fatal != nil {
			return fatal
		}
	}
}

// pausedPart is a partition waiting to be rewound to a failed record.
type pausedPart struct {
	due    time.Time
	rewind kgo.EpochOffset
}

// pollContext sends commit points left waiting, resumes and rewinds the
// partitions whose redelivery delay is over, and bounds the next poll by
// the earliest partition still paused (or by a commit still waiting), so the
// loop itself wakes up to do it: no timer goroutines.
func (c *consumer) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	now := time.Now()
	var next time.Time
	if c.flush() {
		next = now.Add(commitRecheck)
	}
	var resume map[tp]kgo.EpochOffset
	c.mu.Lock()
	if h := c.nextHeldDue(); !h.IsZero() && (next.IsZero() || h.Before(next)) {
		next = h
	}
	for p, pp := range c.paused {
		if !pp.due.After(now) {
			if resume == nil {
				resume = make(map[tp]kgo.EpochOffset)
			}
			resume[p] = pp.rewind
			delete(c.paused, p)
		} else if next.IsZero() || pp.due.Before(next) {
			next = pp.due
		}
	}
	c.mu.Unlock()
	if len(resume) > 0 {
		// Resume first: the rewind then restarts the fetch session with the
		// partition in it, discarding anything fetched from before the
		// rewind.
		c.cl.ResumeFetchPartitions(partitionsOf(resume))
		c.cl.SetOffsets(byTopic(resume))
	}
	if next.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, next)
}

// fetchErrors logs what franz-go retries by itself and returns the first
// error that needs an operator (authorization) or means the client is gone.
func (c *consumer) fetchErrors(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, partition int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// The poll deadline of a paused partition, or shutdown.
		case isFatal(err):
			if fatal == nil {
				fatal = fmt.Errorf("kafka: consume group %s: %s: %w", c.sub.Group, c.t.topicName(topic), err)
			}
		case errors.As(err, &loss):
			c.log.Error("broker lost records; consuming resumed where franz-go could",
				"topic", c.t.ns.logical(topic), "partition", partition, "error", err)
		default:
			c.log.Warn("fetch failed; retrying", "topic", c.t.ns.logical(topic), "partition", partition, "error", err)
		}
	})
	return fatal
}

// isFatal reports errors that retrying cannot fix without an operator.
func isFatal(err error) bool {
	return errors.Is(err, kgo.ErrClientClosed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.InvalidGroupID)
}

// revoked commits the latest points of partitions about to move to another
// member, then forgets them. With BlockRebalanceOnPoll this runs between
// batches, so the points are final.
func (c *consumer) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.commitSync(ctx, c.forget(cl, revoked))
}

// lost forgets partitions taken away without a revoke (the session
// expired): committing them is no longer this member's to do.
func (c *consumer) lost(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	c.forget(cl, lost)
}

// forget drops what this member knew about partitions it no longer owns
// and returns their commit points. A pause is lifted in franz-go too, or the
// partition would stay paused if it came back.
func (c *consumer) forget(cl *kgo.Client, gone map[string][]int32) map[tp]kgo.EpochOffset {
	points := make(map[tp]kgo.EpochOffset)
	c.mu.Lock()
	for topic, ps := range gone {
		for _, p := range ps {
			k := tp{topic, p}
			if at, ok := c.latest[k]; ok {
				points[k] = at
			}
			delete(c.latest, k)
			delete(c.deliveries, k)
			delete(c.done, k)
			delete(c.paused, k)
			delete(c.held, k)
		}
	}
	c.mu.Unlock()
	cl.ResumeFetchPartitions(gone)
	return points
}
