package dlq

import (
	"context"
	"time"
)

// Clock is the time a replay paces itself by; tests substitute one that does
// not sleep.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// limiter paces batches so that, on average, no more than rate events go
// out per second: after a batch of n events the next waits n/rate seconds.
// Batches are small (batchFor) so the pace is even, not bursty.
type limiter struct {
	rate  float64
	clock Clock
	next  time.Time
}

// wait blocks until a batch of n events may go.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	now := l.clock.Now()
	if l.next.After(now) {
		if err := l.clock.Sleep(ctx, l.next.Sub(now)); err != nil {
			return err
		}
		now = l.next
	}
	l.next = now.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	return nil
}

// maxBatch bounds the records of one Send: large enough to batch well, small
// enough that an interrupted replay has little in flight.
const maxBatch = 500

// batchFor is the batch size at a rate: a tenth of a second's worth, at
// least 1, so a rate-limited replay never sends more than rate/10 events at
// once.
func batchFor(rate float64) int {
	if rate <= 0 {
		return maxBatch
	}
	return max(1, min(maxBatch, int(rate/10)))
}
