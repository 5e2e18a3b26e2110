package kafka

import (
	"context"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Commits go out asynchronously, one at a time, always carrying the latest
// commit point of every partition: a broker's commit latency (Apache Kafka
// 4's group coordinator lingers ~5ms per write) then costs no throughput,
// and a slow commit is coalesced with the next instead of queueing. The
// points are made durable synchronously where it matters: before a
// partition is handed to another member (the revoke callback, which with
// BlockRebalanceOnPoll runs only between batches) and when Consume returns.
// A commit lost in a crash in between costs duplicates, never records.

// commitRecheck is how soon the poll loop looks again at a commit point
// that could not go out because the previous commit was still in flight.
const commitRecheck = 20 * time.Millisecond

// advance records new commit points and sends them if no commit is in
// flight.
func (c *consumer) advance(commit map[tp]kgo.EpochOffset) {
	if len(commit) == 0 {
		return
	}
	c.mu.Lock()
	maps.Copy(c.latest, commit)
	c.mu.Unlock()
	c.dirty.Store(true)
	c.flush()
}

// flush sends the latest commit points unless nothing changed or a commit
// is in flight; it reports whether points are left waiting.
func (c *consumer) flush() (waiting bool) {
	if !c.dirty.Load() {
		return false
	}
	if !c.inflight.CompareAndSwap(false, true) {
		return true
	}
	c.dirty.Store(false)
	c.mu.Lock()
	points := maps.Clone(c.latest)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	c.cl.CommitOffsets(ctx, byTopic(points), func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cancel()
		if c.commitFailed(resp, err) {
			c.dirty.Store(true) // the loop sends the points again
		}
		c.inflight.Store(false)
	})
	return false
}

// commitSync commits points and waits: franz-go first waits for a commit
// in flight, so the last word is these points.
func (c *consumer) commitSync(ctx context.Context, points map[tp]kgo.EpochOffset) {
	if len(points) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	c.cl.CommitOffsetsSync(ctx, byTopic(points), func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		c.commitFailed(resp, err)
	})
}

// commitFinal commits every latest point when Consume returns, and clears
// them so the revoke at close has nothing left to commit.
func (c *consumer) commitFinal(ctx context.Context) {
	c.mu.Lock()
	points := c.latest
	c.latest = make(map[tp]kgo.EpochOffset)
	c.mu.Unlock()
	c.commitSync(ctx, points)
}

// commitFailed logs a failed commit and reports whether it failed.
func (c *consumer) commitFailed(resp *kmsg.OffsetCommitResponse, err error) bool {
	if err != nil {
		c.log.Warn("commit failed; handled records will be delivered again if it is not retried", "error", err)
		return true
	}
	failed := false
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				failed = true
				c.log.Warn("commit failed; handled records will be delivered again if it is not retried",
					"topic", c.t.ns.logical(t.Topic), "partition", p.Partition, "error", err)
			}
		}
	}
	return failed
}
