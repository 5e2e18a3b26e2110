package redisstream

import (
	"context"

	"github.com/inopsio/spine/bus"
)

// The transport parks retries like Kafka does (bus.RetryParker): a failed
// non-blocking event is appended to "<topic>.retry-N" and acknowledged on
// its own stream, so the later entries of its key go ahead instead of
// waiting behind it. Each retry level has one delay, so a retry stream's
// entries fall due in the order they were written. A not-yet-due entry is
// handled like a failed one (bus.NotDueError is a delay): it stays pending
// with this consumer, its key waits, and Redis redelivers it at its due time
// (XCLAIM); entries of other keys on the stream are read and wait for their
// own due times in the same way, keeping only their ids in memory.
var _ bus.RetryParker = (*Transport)(nil)

// PrepareRetryTopics implements bus.RetryParker. Streams need no creating:
// XADD creates a retry stream with its first parked entry, and Consume
// creates the group's position on it (XGROUP CREATE … MKSTREAM) from the
// stream's start, as Subscription.FromBeginningTopics asks, so an entry
// parked before this consumer started is not skipped.
func (t *Transport) PrepareRetryTopics(context.Context, map[string][]string) error { return nil }
