package redisstream

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inopsio/spine/bus"
)

// Acknowledgements are sent in one XACK when ackBatch have collected or
// ackDelay after the first of them, whichever comes first: an XACK per entry
// would make the round trip to Redis the consumer's pace. Delaying an
// acknowledgement costs nothing but a wider window for a duplicate after a
// crash.
const (
	ackBatch = 256
	ackDelay = 5 * time.Millisecond
)

// refillChunk bounds the entries one refill reads back (XRANGE, pipelined).
const refillChunk = 64

// shutdownIO bounds the Redis calls of a shutdown (final XACK, release):
// Redis may be down at that moment, and Consume must still return.
const shutdownIO = 10 * time.Second

// loop owns the consumer's state. It accepts batches from read (only while it
// holds fewer than window entries with data), hands entries to the pool,
// collects results, acknowledges, redelivers failed entries and renews what
// it holds. It returns after ctx ended (or read gave up) and the pool has
// finished everything it was handed.
func (s *streamConsumer) loop(ctx context.Context, stopReading func()) error {
	renew := time.NewTicker(s.renewEvery())
	defer renew.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var in <-chan batch
		if s.state.held < s.window {
			in = s.batches
		}
		s.arm(timer)
		select {
		case <-ctx.Done():
			return s.shutdown(ctx, stopReading, nil)
		case b, ok := <-in:
			if !ok { // read gave up; its error is returned by run
				return s.shutdown(ctx, stopReading, nil)
			}
			s.accept(b)
		case r := <-s.results:
			s.complete(r)
		case <-renew.C:
			if err := s.renew(ctx); err != nil {
				return s.shutdown(ctx, stopReading, err)
			}
		case <-timer.C:
		}
		if err := s.work(ctx); err != nil {
			return s.shutdown(ctx, stopReading, err)
		}
	}
}

// arm sets timer to the next due redelivery or retried XACK or refill.
func (s *streamConsumer) arm(timer *time.Timer) {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	// With the pool at its limit nothing can be handed out before a result
	// arrives, and a result wakes the loop anyway: an overdue redelivery or
	// refill must not spin it meanwhile.
	if s.state.inPool < s.limit {
		for ks := range s.state.failed {
			if !ks.retrying {
				earliest(ks.retryAt)
			}
		}
		if len(s.state.ready) > 0 {
			earliest(s.state.pumpAt)
		}
	}
	if len(s.state.acks) > 0 {
		earliest(s.ackTime())
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(time.Until(next), 0)
	}
	timer.Reset(d)
}

// work does what is due: redeliveries, handing waiting entries to the pool,
// acknowledgements. Only a permanent error is returned; transient ones are
// retried later.
func (s *streamConsumer) work(ctx context.Context) error {
	now := time.Now()
	for ks := range s.state.failed {
		if !ks.retrying && !now.Before(ks.retryAt) && s.state.inPool < s.limit {
			if err := s.redeliver(ctx, ks); err != nil {
				return err
			}
		}
	}
	if len(s.state.ready) > 0 && !now.Before(s.state.pumpAt) {
		if err := s.pump(ctx); err != nil {
			return err
		}
	}
	if len(s.state.acks) > 0 && !now.Before(s.ackTime()) {
		if err := s.flushAcks(ctx); err != nil {
			return err
		}
	}
	return nil
}

// accept takes a batch from read.
func (s *streamConsumer) accept(b batch) {
	for _, id := range b.trimmed {
		s.log.Error("a pending entry was trimmed from the stream before any consumer handled it; it is lost (raise MaxLen)", "id", id)
	}
	for _, f := range b.entries {
		if f.deleted { // own pending entry no longer in the stream
			s.log.Error("a pending entry was trimmed from the stream before it was handled; it is lost (raise MaxLen)", "id", f.id)
			s.ack(f.id)
			continue
		}
		if _, dup := s.state.known[f.id]; dup {
			// Already held: an XAUTOCLAIM that found it idle while renewal
			// lagged, or a redelivery after Redis lost recent state.
			continue
		}
		it, err := s.newItem(f)
		if err != nil {
			s.log.Error("skipping an entry with a malformed id", "id", f.id, "error", err)
			continue
		}
		ks := s.keyState(it.rec.Key)
		it.ks = ks
		s.state.known[it.id] = it
		switch {
		case ks.isBlocked():
			s.unload(it) // read back after the failed entry succeeded
			s.park(it)
		case len(ks.waiting) > 0 || s.state.inPool >= s.limit:
			s.park(it)
			s.settle(ks)
		default:
			s.dispatch(it)
		}
	}
}

// complete takes a worker's result.
func (s *streamConsumer) complete(r result) {
	it, ks := r.it, r.it.ks
	ks.inPool--
	s.state.inPool--
	switch {
	case r.skipped && it.retry: // unstarted at shutdown: still the failed one
		s.unload(it)
		it.retry, it.state, ks.retrying = false, failed, false
	case r.skipped:
		s.unload(it)
		s.park(it)
	case r.err == nil:
		s.forget(it)
		s.ack(it.id)
		if it.retry {
			ks.failed, ks.retrying = nil, false
			delete(s.state.failed, ks)
		}
	default:
		// The entry stays pending. It and everything of its key wait for
		// RedeliveryDelay, keeping only their ids in memory.
		s.unload(it)
		it.retry, it.state = false, failed
		ks.failed, ks.retrying = it, false
		ks.retryAt = bus.RedeliverAt(r.err, s.sub.RedeliveryDelay)
		s.state.failed[ks] = struct{}{}
		for _, w := range ks.waiting {
			s.unload(w)
		}
		s.log.Debug("handler failed; redelivering after the delay", "id", it.id, "attempt", it.attempt,
			"at", ks.retryAt, "error", r.err)
	}
	s.settle(ks)
}

// redeliver takes the failed entry of ks for its next attempt.
func (s *streamConsumer) redeliver(ctx context.Context, ks *keyState) error {
	it := ks.failed
	outcome, count, fields, err := redeliver(ctx, s.rdb, s.stream, s.group, s.consumer, it.id)
	switch {
	case err != nil && classify(err) == permanent:
		return fmt.Errorf("redeliver %s: %w", it.id, err)
	case err != nil && classify(err) == noGroup:
		outcome = redeliverNotMine
	case err != nil:
		d := s.state.retryBo.next()
		ks.retryAt = time.Now().Add(d)
		s.log.Warn("redelivery failed; retrying", "id", it.id, "error", err, "retry_in", d.Round(time.Millisecond))
		return nil
	}
	s.state.retryBo.reset()
	switch outcome {
	case redeliverOK:
		s.load(it, fields, false)
		it.attempt, it.retry = count, true
		ks.retrying = true
		s.dispatch(it)
		return nil
	case redeliverNotMine:
		s.log.Warn("a failed entry was taken over by another consumer before its redelivery", "id", it.id)
	default:
		s.log.Error("a failed entry was trimmed from the stream before its redelivery; it is lost (raise MaxLen)", "id", it.id)
	}
	s.forget(it)
	ks.failed = nil
	delete(s.state.failed, ks)
	s.settle(ks)
	return nil
}

// pump hands waiting entries of unblocked keys to the pool, in id order,
// reading back those whose data was dropped.
func (s *streamConsumer) pump(ctx context.Context) error {
	ready := s.state.ready
	s.state.ready = nil
	for i, ks := range ready {
		ks.ready = false
		if ks.isBlocked() || len(ks.waiting) == 0 {
			s.settle(ks)
			continue
		}
		room := s.limit - s.state.inPool
		if room <= 0 {
			s.requeue(ready[i:])
			return nil
		}
		head := ks.waiting[:min(room, len(ks.waiting), refillChunk)]
		gone, err := s.refill(ctx, head)
		if err != nil {
			if classify(err) == permanent {
				return fmt.Errorf("read back held entries: %w", err)
			}
			d := s.state.pumpBo.next()
			s.state.pumpAt = time.Now().Add(d)
			s.log.Warn("reading back held entries failed; retrying", "error", err, "retry_in", d.Round(time.Millisecond))
			s.requeue(ready[i:])
			return nil
		}
		s.state.pumpBo.reset()
		for _, it := range head {
			if gone[it.id] {
				s.log.Error("a held entry was trimmed from the stream before it was handled; it is lost (raise MaxLen)", "id", it.id)
				s.forget(it)
				s.ack(it.id)
				continue
			}
			s.dispatch(it)
		}
		ks.waiting = append(ks.waiting[:0:0], ks.waiting[len(head):]...)
		s.settle(ks)
	}
	return nil
}

type rangeCmd struct {
	it  *item
	cmd *redis.Cmd
}

func (s *streamConsumer) requeue(kss []*keyState) {
	for _, ks := range kss {
		if !ks.ready {
			ks.ready = true
			s.state.ready = append(s.state.ready, ks)
		}
	}
}

// refill reads back the entries of items whose data was dropped (XRANGE
// id id, pipelined; the delivery count does not change) and returns the ids
// no longer in the stream.
func (s *streamConsumer) refill(ctx context.Context, items []*item) (map[string]bool, error) {
	pipe := s.rdb.Pipeline()
	var cmds []*rangeCmd
	for _, it := range items {
		if !it.loaded {
			cmds = append(cmds, &rangeCmd{it: it, cmd: pipe.Do(ctx, "XRANGE", s.stream, it.id, it.id)})
		}
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, c := range cmds {
		es, err := parseEntries(c.cmd.Val())
		if err != nil {
			return nil, err
		}
		if len(es) == 0 || es[0].deleted {
			gone[c.it.id] = true
			continue
		}
		s.load(c.it, es[0].fields, false)
	}
	return gone, nil
}

// renew resets the idle time of every entry held (holdScript), so that no
// other consumer reclaims it, and drops those that are no longer this
// consumer's. An entry in the pool is left to finish: acknowledging it after
// another consumer took it is harmless.
func (s *streamConsumer) renew(ctx context.Context) error {
	if len(s.state.known) == 0 {
		return nil
	}
	ids := make([]string, 0, len(s.state.known))
	for id := range s.state.known {
		ids = append(ids, id)
	}
	owned, err := hold(ctx, s.rdb, s.stream, s.group, s.consumer, 0, ids)
	if err != nil {
		if classify(err) == permanent {
			return fmt.Errorf("renew held entries: %w", err)
		}
		s.log.Warn("renewing held entries failed; other consumers may reclaim them", "error", err)
		return nil
	}
	lost := 0
	for _, id := range ids {
		it := s.state.known[id]
		if owned[id] || it.state == inPool {
			continue
		}
		lost++
		ks := it.ks
		switch it.state {
		case waiting:
			if i := indexOf(ks.waiting, it); i >= 0 {
				ks.waiting = append(ks.waiting[:i], ks.waiting[i+1:]...)
			}
		case failed:
			ks.failed = nil
			delete(s.state.failed, ks)
		}
		s.forget(it)
		s.settle(ks)
	}
	if lost > 0 {
		s.log.Warn("held entries were taken over by another consumer (this one looked dead for longer than ClaimIdle)",
			"entries", lost, "claim_idle", s.cfg.ClaimIdle)
	}
	return nil
}

func indexOf(items []*item, it *item) int {
	for i, x := range items {
		if x == it {
			return i
		}
	}
	return -1
}

// ack queues id for the next XACK.
func (s *streamConsumer) ack(id string) {
	if len(s.state.acks) == 0 {
		s.state.ackDue = time.Now().Add(ackDelay)
	}
	s.state.acks = append(s.state.acks, id)
}

// ackTime is when the queued acknowledgements are due: at once when a batch
// is full, else ackDelay after the first; never before a failed XACK's
// backoff ran out.
func (s *streamConsumer) ackTime() time.Time {
	due := s.state.ackDue
	if len(s.state.acks) >= ackBatch {
		due = time.Time{}
	}
	if s.state.ackAt.After(due) {
		return s.state.ackAt
	}
	return due
}

// flushAcks acknowledges what was handled, in one XACK per ackBatch ids.
func (s *streamConsumer) flushAcks(ctx context.Context) error {
	for len(s.state.acks) > 0 {
		n := min(len(s.state.acks), 4*ackBatch)
		err := s.rdb.XAck(ctx, s.stream, s.group, s.state.acks[:n]...).Err()
		switch {
		case err == nil:
		case classify(err) == noGroup:
			// The group is gone, and with it the pending list: nothing to
			// acknowledge.
		case classify(err) == permanent:
			return fmt.Errorf("XACK: %w", err)
		default:
			d := s.state.ackBo.next()
			s.state.ackAt = time.Now().Add(d)
			s.log.Warn("acknowledging failed; retrying (the entries stay pending meanwhile)", "error", err, "retry_in", d.Round(time.Millisecond))
			return nil
		}
		s.state.ackBo.reset()
		s.state.acks = append(s.state.acks[:0], s.state.acks[n:]...)
	}
	return nil
}
