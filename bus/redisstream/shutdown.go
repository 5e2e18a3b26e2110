package redisstream

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// shutdown ends the consumer: read stops; nothing more is handed out, and
// entries queued in the pool but not started come back unstarted; handlers
// that are running finish and their entries are acknowledged; what is still held (failed entries, entries waiting behind
// them, entries never started) is released for other consumers to reclaim at
// once instead of after ClaimIdle; and when nothing is left pending under
// this consumer's name, the name is removed from the group, so that groups do
// not collect the names of every process that ever ran.
//
// cause is the permanent error that ended the loop, if any; it is returned.
func (s *streamConsumer) shutdown(ctx context.Context, stopReading func(), cause error) error {
	s.stopping.Store(true)
	stopReading()
	var unstarted []string
	batches := s.batches
	for batches != nil || s.state.inPool > 0 {
		select {
		case b, ok := <-batches:
			if !ok {
				batches = nil
				continue
			}
			for _, f := range b.entries {
				if _, held := s.state.known[f.id]; !held {
					unstarted = append(unstarted, f.id)
				}
			}
		case r := <-s.results:
			s.complete(r)
		}
	}

	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownIO)
	defer cancel()
	acked := s.finalAcks(ictx)
	if cause != nil {
		return cause
	}
	ids := unstarted
	for id := range s.state.known {
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		if _, err := hold(ictx, s.rdb, s.stream, s.group, s.consumer, releaseIdle, ids); err != nil {
			s.log.Warn("could not release held entries; other consumers reclaim them after ClaimIdle",
				"entries", len(ids), "error", err)
		}
	}
	if acked {
		s.leaveGroup(ictx)
	}
	return nil
}

// finalAcks acknowledges what the pool finished, retrying transient failures
// until the shutdown deadline, and reports whether everything was.
func (s *streamConsumer) finalAcks(ctx context.Context) bool {
	for {
		s.state.ackAt = time.Time{}
		if err := s.flushAcks(ctx); err != nil {
			s.log.Warn("could not acknowledge handled entries; they will be delivered again",
				"entries", len(s.state.acks), "error", err)
			return false
		}
		if len(s.state.acks) == 0 {
			return true
		}
		if !sleep(ctx, time.Until(s.state.ackAt)) {
			s.log.Warn("could not acknowledge handled entries before the shutdown deadline; they will be delivered again",
				"entries", len(s.state.acks))
			return false
		}
	}
}

// leaveGroup deletes this consumer from the group when it has no pending
// entries. XGROUP DELCONSUMER would drop pending entries with the name, so
// the check comes first; it cannot race, since read has stopped and no one
// else reads under this name.
func (s *streamConsumer) leaveGroup(ctx context.Context) {
	p, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.stream, Group: s.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer,
	}).Result()
	if err != nil || len(p) > 0 {
		return
	}
	if err := s.rdb.XGroupDelConsumer(ctx, s.stream, s.group, s.consumer).Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Debug("could not remove the consumer name from the group", "error", err)
	}
}
