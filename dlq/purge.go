package dlq

import (
	"context"
	"errors"
	"maps"
	"slices"
)

// Purge resolves the open dead letters f matches as purged: they are no
// longer listed (but with --all) and never replayed. Kafka cannot delete one
// record, so the data itself goes when it can: wherever every dead letter of
// a DLQ partition up to some offset is resolved (purged or replayed), Purge
// deletes the records below that offset (Kafka DeleteRecords); retention
// (seven days) takes the rest. Every purged letter gets an audit row, and the
// command one of its own.
func (m *Manager) Purge(ctx context.Context, f Filter, a Action) (*Report, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	s, err := m.scan(ctx, f, false)
	if err != nil {
		return nil, err
	}
	r := m.newRun(f, a, s, "purge", ActionPurge, StatusPurged)
	letters := s.matching(m.cat, f, false)
	r.rep.Matched = len(letters)
	if a.DryRun {
		r.rep.Done = letters
		return r.rep, nil
	}
	err = r.process(ctx, letters, nil, maxBatch, nil)
	touched := map[string]bool{}
	for _, l := range r.rep.Done {
		touched[l.Position.partitionKey()] = true
	}
	// Truncate what was resolved even when the purge stopped part-way.
	r.rep.Deleted, err = m.truncate(ctx, s, touched, err)
	if err == nil {
		m.out.InfoContext(ctx, "dead letters purged", "command", r.rep.Command, "purged", len(r.rep.Done),
			"deleted", r.rep.Deleted, "actor", a.Actor)
	}
	return r.finish(ctx, err)
}

// truncate deletes, in each touched DLQ partition, the records below the
// first open dead letter — below the end of what was read, when none is
// open. Records written after the scan are above that end, so nothing
// unseen is deleted. It returns the partitions truncated with their new
// start, and prior joined with its own errors.
func (m *Manager) truncate(ctx context.Context, s *scanned, touched map[string]bool, prior error) (map[string]int64, error) {
	firstOpen := map[string]int64{}
	for _, l := range s.letters {
		k := l.Position.partitionKey()
		if _, seen := firstOpen[k]; !seen && touched[k] && l.Resolution == nil {
			firstOpen[k] = l.Position.Offset
		}
	}
	deleted := map[string]int64{}
	errs := []error{prior}
	for _, k := range slices.Sorted(maps.Keys(touched)) {
		upTo, open := firstOpen[k]
		if !open {
			upTo = s.ends[k]
		}
		if upTo <= s.starts[k] {
			continue
		}
		p, err := ParsePosition(k + "/0")
		if err != nil {
			continue // cannot happen: the key came from a Position
		}
		if err := m.admin.DeleteRecords(ctx, p.Topic, p.Partition, upTo); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted[k] = upTo
	}
	return deleted, errors.Join(errs...)
}
