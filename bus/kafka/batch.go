package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/bus"
)

// partBatch is one partition's share of a poll batch.
type partBatch struct {
	tp       tp
	recs     []*kgo.Record
	attempts []int     // delivery attempt of each record
	out      []outcome // written by the record's task, read after all finish
	failedAt atomic.Int64

	mu      sync.Mutex
	until   map[int64]time.Time  // when each record failing its partition asked to come back
	keyDues map[string]time.Time // keys that failed in this batch, and when they are due
}

// holdKey notes that key failed and when its failed record comes back;
// later records of the key in the batch are then held, not run.
func (pb *partBatch) holdKey(key []byte, at time.Time) {
	pb.mu.Lock()
	if pb.keyDues == nil {
		pb.keyDues = map[string]time.Time{}
	}
	pb.keyDues[string(key)] = at
	pb.mu.Unlock()
}

// keyFailed reports whether key failed earlier in the batch.
func (pb *partBatch) keyFailed(key []byte) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	_, ok := pb.keyDues[string(key)]
	return ok
}

// keyDue is when the failed record of key comes back.
func (pb *partBatch) keyDue(key []byte) time.Time {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.keyDues[string(key)]
}

// failWith notes a failure and when the record should be delivered again.
func (pb *partBatch) failWith(offset int64, at time.Time) {
	pb.mu.Lock()
	if pb.until == nil {
		pb.until = map[int64]time.Time{}
	}
	pb.until[offset] = at
	pb.mu.Unlock()
	pb.fail(offset)
}

// redeliverAt is when the partition's first failed record comes back; zero
// for a batch handler's failure, which takes the redelivery delay.
func (pb *partBatch) redeliverAt() time.Time {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.until[pb.failedAt.Load()]
}

// fail notes that the record at offset failed; failedAt keeps the lowest.
func (pb *partBatch) fail(offset int64) {
	for {
		cur := pb.failedAt.Load()
		if offset >= cur || pb.failedAt.CompareAndSwap(cur, offset) {
			return
		}
	}
}

func (pb *partBatch) hasFailure() bool { return pb.failedAt.Load() != math.MaxInt64 }

// handle runs one poll batch, with the held records now due, to
// completion; then it commits, holds and rewinds.
func (c *consumer) handle(ctx context.Context, fetches kgo.Fetches, due map[tp][]*kgo.Record) {
	batches := c.split(fetches, due)
	hctx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	if c.hb != nil {
		c.submitBatches(ctx, hctx, &wg, batches)
	} else {
		c.submitRecords(ctx, hctx, &wg, batches)
	}
	wg.Wait()
	c.settle(ctx, batches)
}

// split groups the records by partition, in offset order — held records
// now due first (they are older than anything fetched) — looks up each
// record's attempt, and marks the records this member already handled
// before a rewind brought them back and those whose key is still held.
func (c *consumer) split(fetches kgo.Fetches, due map[tp][]*kgo.Record) []*partBatch {
	var batches []*partBatch
	byTP := make(map[tp]*partBatch)
	add := func(k tp, recs []*kgo.Record) {
		if len(recs) == 0 {
			return
		}
		pb := byTP[k]
		if pb == nil {
			pb = &partBatch{tp: k}
			pb.failedAt.Store(math.MaxInt64)
			byTP[k] = pb
			batches = append(batches, pb)
		}
		pb.recs = append(pb.recs, recs...)
	}
	for k, recs := range due {
		add(k, recs)
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		add(tp{p.Topic, p.Partition}, p.Records)
	})
	c.mu.Lock()
	for _, pb := range batches {
		pb.out = make([]outcome, len(pb.recs))
		pb.attempts = make([]int, len(pb.recs))
		f, done := c.deliveries[pb.tp], c.done[pb.tp]
		for i, r := range pb.recs {
			pb.attempts[i] = f[r.Offset] + 1
			if c.hb != nil {
				continue
			}
			if _, ok := done[r.Offset]; ok {
				pb.out[i] = succeeded
			} else if c.isHeld(pb.tp, r.Key) {
				pb.out[i] = held
			}
		}
	}
	c.mu.Unlock()
	return batches
}

// submitRecords runs each record on the worker of its topic, partition and
// key, except those already handled and those whose key is held. A record
// is skipped when shutdown began or when an earlier record of its partition
// asked the partition to wait (bus.NotDueError): the partition is rewound
// to that record, so running this one now would only run it twice. A record
// whose key failed earlier in the batch is held behind the failed one (the
// pool runs a key's records in order, so the failure is seen first).
func (c *consumer) submitRecords(ctx, hctx context.Context, wg *sync.WaitGroup, batches []*partBatch) {
	var key []byte
	for _, pb := range batches {
		for i, r := range pb.recs {
			if pb.out[i] == succeeded || pb.out[i] == held {
				continue // handled before a rewind, or waiting behind its key
			}
			key = poolKey(key[:0], pb.tp, r.Key)
			wg.Add(1)
			err := c.pool.Submit(ctx, key, func() {
				defer wg.Done()
				if ctx.Err() != nil || pb.failedAt.Load() < r.Offset {
					return
				}
				if pb.keyFailed(r.Key) {
					pb.out[i] = held
					return
				}
				d := delivery(c.t.ns, r, pb.attempts[i])
				err := c.call(hctx, d)
				switch {
				case err == nil:
					pb.out[i] = succeeded
				case bus.IsNotDue(err):
					pb.failWith(r.Offset, bus.RedeliverAt(err, c.sub.RedeliveryDelay))
					pb.out[i] = failed
				default:
					pb.holdKey(r.Key, bus.RedeliverAt(err, c.sub.RedeliveryDelay))
					pb.out[i] = failed
					c.log.Debug("handler failed; its key waits for the retry",
						"position", d.ID, "attempt", d.Attempt, "error", err)
				}
			})
			if err != nil { // ctx ended while the queue was full
				wg.Done()
				return
			}
		}
	}
}

// submitBatches runs each partition's records as one call, on the worker of
// the partition.
func (c *consumer) submitBatches(ctx, hctx context.Context, wg *sync.WaitGroup, batches []*partBatch) {
	var key []byte
	for _, pb := range batches {
		key = poolKey(key[:0], pb.tp, nil)
		wg.Add(1)
		err := c.pool.Submit(ctx, key, func() {
			defer wg.Done()
			if ctx.Err() != nil {
				return
			}
			ds := make([]*bus.Delivery, len(pb.recs))
			for i, r := range pb.recs {
				ds[i] = delivery(c.t.ns, r, pb.attempts[i])
			}
			o := succeeded
			if err := c.callBatch(hctx, ds); err != nil {
				o = failed
				pb.fail(pb.recs[0].Offset)
				c.log.Debug("batch handler failed; the partition rewinds to the batch",
					"position", ds[0].ID, "records", len(ds), "error", err)
			}
			for i := range pb.out {
				pb.out[i] = o
			}
		})
		if err != nil {
			wg.Done()
			return
		}
	}
}

// poolKey is topic, partition and record key: records of one key share a
// worker, and so do the records of one partition in batch mode.
func poolKey(b []byte, p tp, key []byte) []byte {
	b = append(b, p.topic...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(p.partition))
	return append(b, key...)
}

// call runs h, turning a panic into a failure: one bad record must not take
// the consumer, and every other key's records, down with it.
func (c *consumer) call(ctx context.Context, d *bus.Delivery) (err error) {
	defer c.recoverInto(&err, d.ID)
	return c.h(ctx, d)
}

func (c *consumer) callBatch(ctx context.Context, ds []*bus.Delivery) (err error) {
	defer c.recoverInto(&err, ds[0].ID)
	return c.hb(ctx, ds)
}

func (c *consumer) recoverInto(err *error, at string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("kafka: handler panicked: %v", r)
		c.log.Error("handler panicked; the record will be delivered again", "position", at,
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// settle moves the commit points past what the batch completed (the commit
// itself goes out asynchronously, and never past a held record), files the
// held records under their keys, and pauses the partitions that must be
// rewound: after a failure in batch mode or a bus.NotDueError, to the
// failed record when it is due; and a partition holding too many records,
// to the record after the batch when its first held key is due.
func (c *consumer) settle(ctx context.Context, batches []*partBatch) {
	results := make(map[tp][]result, len(batches))
	for _, pb := range batches {
		rs := make([]result, len(pb.recs))
		for i, r := range pb.recs {
			rs[i] = result{offset: r.Offset, epoch: r.LeaderEpoch, outcome: pb.out[i]}
		}
		results[pb.tp] = rs
	}
	commit := commitPoints(results)
	pause := make(map[tp]pausedPart)
	c.mu.Lock()
	for _, pb := range batches {
		cut := int64(math.MaxInt64)
		if pb.hasFailure() {
			cut = pb.failedAt.Load()
			due := pb.redeliverAt()
			if due.IsZero() {
				due = time.Now().Add(c.sub.RedeliveryDelay)
			}
			// Epoch -1: the offset was just read from this partition, so
			// there is no truncation to detect, and franz-go then skips an
			// OffsetForLeaderEpoch round trip.
			pause[pb.tp] = pausedPart{due: due, rewind: kgo.EpochOffset{Epoch: -1, Offset: cut}}
		}
		if c.hb != nil {
			continue
		}
		oldest, n := c.hold(pb, cut)
		if oldest != nil {
			if at, ok := commit[pb.tp]; ok && at.Offset > oldest.Offset {
				commit[pb.tp] = kgo.EpochOffset{Epoch: oldest.LeaderEpoch, Offset: oldest.Offset}
			}
		}
		if _, ok := pause[pb.tp]; !ok && n > maxHeldPerPartition {
			last := pb.recs[len(pb.recs)-1]
			pause[pb.tp] = pausedPart{due: c.earliestDue(pb.tp), rewind: kgo.EpochOffset{Epoch: -1, Offset: last.Offset + 1}}
			c.log.Warn("too many records held behind failed keys; the partition waits for the first retry",
				"topic", c.t.ns.logical(pb.tp.topic), "partition", pb.tp.partition, "held", n)
		}
	}
	c.mu.Unlock()
	c.remember(batches, commit)
	c.advance(commit)
	if ctx.Err() != nil {
		return // stopping: whoever gets the partitions next starts at the commit
	}
	if len(pause) == 0 {
		return
	}
	// Pause now and rewind when due (pollContext): the rewind restarts
	// franz-go's fetch session, so doing it at resume time fetches the
	// partition at once instead of after a fetch in flight. While paused,
	// franz-go hands out nothing more of the partition, and the committed
	// offset is at or before the rewind point, so a rebalance meanwhile
	// loses nothing either.
	c.mu.Lock()
	for p, pp := range pause {
		c.paused[p] = pp
	}
	c.mu.Unlock()
	c.cl.PauseFetchPartitions(partitionsOf(pause))
}

// remember updates what this member knows about records past each
// partition's commit point that it will deliver again: how often each was
// delivered (Attempt counts deliveries, so a record fetched again after an
// earlier failure never comes back as Attempt 1) and which succeeded (so a
// rewind that brings them back skips them instead of running them twice).
// That is every failed record, and every record at or after a rewind
// point; records below the commit point are forgotten. A success that no
// rewind brings back is not stored, so a long-held key costs no memory for
// the other keys' records flowing past it.
//
// Skipping a remembered success keeps per-key order: a record of a failed
// record's key, behind it, never succeeded (it was held or skipped), so it
// still runs after the failed one.
func (c *consumer) remember(batches []*partBatch, commit map[tp]kgo.EpochOffset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pb := range batches {
		cut := int64(math.MinInt64)
		if at, ok := commit[pb.tp]; ok {
			cut = at.Offset
		}
		rewindAt := pb.failedAt.Load()
		f, done := c.deliveries[pb.tp], c.done[pb.tp]
		for i, r := range pb.recs {
			o := pb.out[i]
			if r.Offset < cut || o == notRun || o == held || (o == succeeded && r.Offset < rewindAt) {
				continue
			}
			if _, ok := done[r.Offset]; ok {
				continue // not delivered this time
			}
			if f == nil {
				f = make(map[int64]int)
				c.deliveries[pb.tp] = f
			}
			f[r.Offset]++
			if o == succeeded {
				if done == nil {
					done = make(map[int64]struct{})
					c.done[pb.tp] = done
				}
				done[r.Offset] = struct{}{}
			}
		}
		prune(c.deliveries, pb.tp, cut)
		prune(c.done, pb.tp, cut)
	}
}

// prune forgets the offsets of p below cut.
func prune[V any](m map[tp]map[int64]V, p tp, cut int64) {
	f := m[p]
	for off := range f {
		if off < cut {
			delete(f, off)
		}
	}
	if f != nil && len(f) == 0 {
		delete(m, p)
	}
}
