package redisstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// batch is what read hands to loop.
type batch struct {
	entries []fetched
	// trimmed lists pending entries of dead consumers that XAUTOCLAIM found
	// gone from the stream (and removed from the pending list): lost, and
	// reported.
	trimmed []string
}

// fetched is one entry and its delivery count.
type fetched struct {
	rawEntry
	attempt int
}

// readerState is read's position.
type readerState struct {
	needGroup   bool
	groupStart  string // "$", "0"
	historyFrom string // next own-pending id to read after; "" when done
	claimCursor string
	nextClaim   time.Time
	trimSeen    string // the first entry id when a loss was last reported
}

// read fetches entries for loop until ctx ends. First this consumer's own
// pending entries (XREADGROUP from id 0: what a process of the same name held
// when it stopped), then, in turn, entries that dead consumers left pending
// longer than ClaimIdle (XAUTOCLAIM, every claimEvery) and new entries
// (XREADGROUP > with BLOCK). Sending to loop blocks while loop holds as many
// entries as it may: that is the consumer's back-pressure.
//
// Errors that a restart or failover of Redis causes are retried with backoff;
// a missing group is created again; anything else ends the consumer.
func (s *streamConsumer) read(ctx context.Context) error {
	r := &s.reader
	r.needGroup, r.historyFrom, r.claimCursor = true, "0", "0-0"
	r.groupStart = "$"
	if s.sub.FromBeginning || slices.Contains(s.sub.FromBeginningTopics, s.topic) {
		r.groupStart = "0"
	}
	var bo backoff
	for ctx.Err() == nil {
		b, err := s.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			switch classify(err) {
			case permanent:
				return err
			case noGroup:
				// The stream or the group was deleted under us (or Redis came
				// back empty). Everything still in the stream is unread by
				// the new group, so it starts at the oldest entry.
				s.log.Warn("consumer group is gone; creating it again from the oldest entry", "error", err)
				r.needGroup, r.groupStart, r.historyFrom = true, "0", ""
				continue
			}
			d := bo.next()
			s.log.Warn("reading from Redis failed; retrying", "error", err, "retry_in", d.Round(time.Millisecond))
			sleep(ctx, d)
			continue
		}
		bo.reset()
		if len(b.entries) > 0 || len(b.trimmed) > 0 {
			s.batches <- b // loop drains batches until this goroutine returns
		}
	}
	return nil
}

// step does one read.
func (s *streamConsumer) step(ctx context.Context) (batch, error) {
	r := &s.reader
	switch {
	case r.needGroup:
		return batch{}, s.createGroup(ctx)
	case r.historyFrom != "":
		return s.readOwn(ctx)
	case !time.Now().Before(r.nextClaim):
		return s.claim(ctx)
	}
	return s.readNew(ctx)
}

// createGroup creates the group (and the stream, MKSTREAM); an existing group
// (BUSYGROUP) is fine: its position is kept.
func (s *streamConsumer) createGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.stream, s.group, s.reader.groupStart).Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("XGROUP CREATE: %w", err)
	}
	s.reader.needGroup = false
	return nil
}

// readOwn reads the next page of this consumer's own pending entries. Such a
// re-read counts as a delivery, and XPENDING then gives the count.
func (s *streamConsumer) readOwn(ctx context.Context) (batch, error) {
	r := &s.reader
	v, err := s.rdb.Do(ctx, "XREADGROUP", "GROUP", s.group, s.consumer,
		"COUNT", s.cfg.Count, "STREAMS", s.stream, r.historyFrom).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return batch{}, fmt.Errorf("XREADGROUP (own pending entries): %w", err)
	}
	es, err := parseRead(v, s.stream)
	if err != nil {
		return batch{}, err
	}
	if len(es) == 0 {
		r.historyFrom = ""
		return batch{}, nil
	}
	b, err := s.withCounts(ctx, es)
	if err != nil {
		return batch{}, err
	}
	r.historyFrom = es[len(es)-1].id
	if n := len(b.entries); n > 0 {
		s.log.Info("resuming entries this consumer held before it stopped", "entries", n)
	}
	return b, nil
}

// claim takes over entries that other consumers left pending longer than
// ClaimIdle: they crashed or lost their connection, since live consumers
// renew what they hold.
func (s *streamConsumer) claim(ctx context.Context) (batch, error) {
	r := &s.reader
	v, err := s.rdb.Do(ctx, "XAUTOCLAIM", s.stream, s.group, s.consumer,
		s.cfg.ClaimIdle.Milliseconds(), r.claimCursor, "COUNT", s.cfg.Count).Result()
	if err != nil {
		return batch{}, fmt.Errorf("XAUTOCLAIM: %w", err)
	}
	cursor, es, deleted, err := parseAutoClaim(v)
	if err != nil {
		return batch{}, err
	}
	r.claimCursor = cursor
	if cursor == "0-0" { // the whole pending list was scanned
		r.nextClaim = time.Now().Add(s.claimEvery())
		s.checkTrimmed(ctx)
	}
	b, err := s.withCounts(ctx, es)
	if err != nil {
		return batch{}, err
	}
	b.trimmed = deleted
	if n := len(b.entries); n > 0 {
		s.log.Warn("reclaimed entries a consumer left pending longer than ClaimIdle", "entries", n, "claim_idle", s.cfg.ClaimIdle)
	}
	return b, nil
}

// readNew reads entries never delivered to the group: first delivery.
func (s *streamConsumer) readNew(ctx context.Context) (batch, error) {
	v, err := s.rdb.Do(ctx, "XREADGROUP", "GROUP", s.group, s.consumer,
		"COUNT", s.cfg.Count, "BLOCK", s.cfg.Block.Milliseconds(), "STREAMS", s.stream, ">").Result()
	if errors.Is(err, redis.Nil) { // BLOCK ran out
		return batch{}, nil
	}
	if err != nil {
		return batch{}, fmt.Errorf("XREADGROUP: %w", err)
	}
	es, err := parseRead(v, s.stream)
	if err != nil {
		return batch{}, err
	}
	b := batch{entries: make([]fetched, len(es))}
	for i, e := range es {
		b.entries[i] = fetched{rawEntry: e, attempt: 1}
	}
	return b, nil
}

// withCounts attaches delivery counts to re-read or claimed entries; an entry
// that stopped being pending in between (acknowledged elsewhere) is left out.
// Deleted entries need no count: loop acknowledges them away.
func (s *streamConsumer) withCounts(ctx context.Context, es []rawEntry) (batch, error) {
	ids := make([]string, 0, len(es))
	for _, e := range es {
		if !e.deleted {
			ids = append(ids, e.id)
		}
	}
	counts, err := pendingCounts(ctx, s.rdb, s.stream, s.group, ids)
	if err != nil {
		return batch{}, err
	}
	b := batch{entries: make([]fetched, 0, len(es))}
	for _, e := range es {
		n, ok := counts[e.id]
		if e.deleted || ok {
			b.entries = append(b.entries, fetched{rawEntry: e, attempt: max(n, 1)})
		}
	}
	return b, nil
}

// checkTrimmed reports entries that MAXLEN trimming removed before the
// group read them. Once the group's last-delivered id is below the stream's
// first entry, everything between is gone; how much, Redis 7's counters say:
// entries added minus entries the group read minus entries still there.
// Each loss is logged once, at error level: it is data loss.
func (s *streamConsumer) checkTrimmed(ctx context.Context) {
	info, err := s.rdb.XInfoStream(ctx, s.stream).Result()
	if err != nil || info.FirstEntry.ID == "" || info.FirstEntry.ID == s.reader.trimSeen {
		return
	}
	groups, err := s.rdb.XInfoGroups(ctx, s.stream).Result()
	if err != nil {
		return
	}
	first, err := parseID(info.FirstEntry.ID)
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name != s.group {
			continue
		}
		// A group that has read nothing yet has lost nothing: what was
		// trimmed before it existed was never its to read.
		last, err := parseID(g.LastDeliveredID)
		if err != nil || last == (streamID{}) || !last.less(first) {
			return
		}
		if lost := info.EntriesAdded - g.EntriesRead - info.Length; lost > 0 {
			s.log.Error("entries were trimmed from the stream before the group read them; they are lost (raise MaxLen, or add consumers)",
				"lost", lost, "last_delivered_id", g.LastDeliveredID, "first_entry_id", info.FirstEntry.ID, "max_len", s.cfg.MaxLen)
			s.reader.trimSeen = info.FirstEntry.ID
		}
	}
}
