package kafka

import (
	"cmp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A record whose handler failed with a scheduled retry (bus.DelayError, or
// any other error: then after the redelivery delay) holds only its own key:
// the record and every later record of its key wait in this member's memory
// until the retry is due, while the other keys of the partition keep
// flowing. The partition's commit point stays at the oldest held record, so
// a crash or a rebalance meanwhile loses nothing: the next owner fetches the
// held records again (and the successes after them, which handlers dedupe).
//
// A bus.NotDueError instead pauses the whole partition (a retry topic, where
// nothing behind the head is due earlier) and rewinds it when due.

// maxHeldPerPartition bounds the records held in memory for one partition.
// Past it, the partition stops fetching until its earliest held key is due:
// one tenant's flood of events behind a failing one costs the partition's
// throughput, never the member's memory.
const maxHeldPerPartition = 10_000

// heldKey is a key waiting out its failed record's retry delay: the failed
// record first, then the later records of the key, in offset order.
type heldKey struct {
	due  time.Time
	recs []*kgo.Record
}

// isHeld reports whether key is waiting on partition p. Callers hold mu.
func (c *consumer) isHeld(p tp, key []byte) bool {
	_, ok := c.held[p][string(key)]
	return ok
}

// takeDue removes the held keys whose retry is due and returns their
// records by partition, in offset order, to be run with the next batch.
func (c *consumer) takeDue(now time.Time) map[tp][]*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due map[tp][]*kgo.Record
	for p, keys := range c.held {
		for k, h := range keys {
			if h.due.After(now) {
				continue
			}
			if due == nil {
				due = make(map[tp][]*kgo.Record)
			}
			due[p] = append(due[p], h.recs...)
			delete(keys, k)
		}
		if len(keys) == 0 {
			delete(c.held, p)
		}
	}
	for _, recs := range due {
		slices.SortFunc(recs, func(a, b *kgo.Record) int { return cmp.Compare(a.Offset, b.Offset) })
	}
	return due
}

// nextHeldDue is the earliest due time of a held key; zero when none.
// Callers hold mu.
func (c *consumer) nextHeldDue() time.Time {
	var next time.Time
	for _, keys := range c.held {
		for _, h := range keys {
			if next.IsZero() || h.due.Before(next) {
				next = h.due
			}
		}
	}
	return next
}

// hold files a batch's failed and waiting records under their keys. Records
// at or past cut are not held: the partition rewinds to cut and fetches them
// again (held records of earlier batches past cut are dropped for the same
// reason). It returns the oldest record still held on the partition, to
// bound its commit point, and how many are held there. Callers hold mu.
func (c *consumer) hold(pb *partBatch, cut int64) (oldest *kgo.Record, n int) {
	keys := c.held[pb.tp]
	if keys == nil {
		keys = make(map[string]*heldKey)
	}
	for _, h := range keys {
		h.recs = slices.DeleteFunc(h.recs, func(r *kgo.Record) bool { return r.Offset >= cut })
	}
	for i, r := range pb.recs {
		if r.Offset >= cut {
			break
		}
		switch pb.out[i] {
		case failed:
			keys[string(r.Key)] = &heldKey{due: pb.keyDue(r.Key), recs: []*kgo.Record{r}}
		case held:
			// A key fails before its later records are looked at (one
			// worker runs a key in order), or was held by an earlier batch.
			h := keys[string(r.Key)]
			if h == nil { // cannot happen; never lose the record over it
				h = &heldKey{due: time.Now()}
				keys[string(r.Key)] = h
			}
			h.recs = append(h.recs, r)
		}
	}
	for _, h := range keys {
		n += len(h.recs)
		if len(h.recs) > 0 && (oldest == nil || h.recs[0].Offset < oldest.Offset) {
			oldest = h.recs[0]
		}
	}
	if len(keys) == 0 {
		delete(c.held, pb.tp)
	} else {
		c.held[pb.tp] = keys
	}
	return oldest, n
}

// earliestDue is when the first held key of p is due. Callers hold mu.
func (c *consumer) earliestDue(p tp) time.Time {
	var next time.Time
	for _, h := range c.held[p] {
		if next.IsZero() || h.due.Before(next) {
			next = h.due
		}
	}
	return next
}
