package dlq

import (
	"bytes"
	"context"
	"slices"

	"github.com/inopsio/spine/codec"
)

// Replay republishes the open dead letters f matches to their original
// topics — same key, value and envelope headers, so the same event_id, which
// lets deduplication make the replay safe — without the failure headers and
// with spine-replay-count raised by one (replayRecord). Each replayed letter
// is then resolved in the resolution log, so a second replay skips it, and
// recorded in the audit trail; the command gets an audit row of its own.
//
// Letters that are not Spine events, or whose headers name a topic other
// than their DLQ's, are skipped and reported. The dead letters several
// consumer groups wrote for one record are published once. With a.DryRun nothing is
// sent or written and the report lists what would be replayed.
func (m *Manager) Replay(ctx context.Context, f Filter, a Action) (*Report, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	s, err := m.scan(ctx, f, true)
	if err != nil {
		return nil, err
	}
	r := m.newRun(f, a, s, "replay", ActionReplay, StatusReplayed)
	letters := s.matching(m.cat, f, false)
	r.rep.Matched = len(letters)
	todo := make([]*Letter, 0, len(letters))
	recs := make(map[*Letter]codec.Record, len(letters))
	// A record that failed in several consumer groups has one dead letter
	// per group; the topic reaches every group, so it is published once and
	// all its letters are resolved. Only byte-identical records count as one.
	sent := map[string][]codec.Record{}
	for _, l := range letters {
		rec, why := replayRecord(l)
		if why != "" {
			r.rep.Skipped = append(r.rep.Skipped, Skip{ID: l.ID, Reason: why})
			continue
		}
		todo = append(todo, l)
		if slices.ContainsFunc(sent[l.EventID], func(o codec.Record) bool { return sameRecord(o, rec) }) {
			continue
		}
		sent[l.EventID] = append(sent[l.EventID], rec)
		recs[l] = rec
	}
	if a.DryRun {
		r.rep.Done = todo
		return r.rep, nil
	}
	var lim *limiter
	if a.Rate > 0 {
		lim = &limiter{rate: a.Rate, clock: m.clock}
	}
	err = r.process(ctx, todo, lim, batchFor(a.Rate), func(ctx context.Context, b []*Letter) error {
		out := make([]codec.Record, 0, len(b))
		for _, l := range b {
			if rec, ok := recs[l]; ok {
				out = append(out, rec)
			}
		}
		return m.log.Send(ctx, out...)
	})
	if err == nil {
		m.out.InfoContext(ctx, "dead letters replayed", "command", r.rep.Command, "replayed", len(r.rep.Done),
			"skipped", len(r.rep.Skipped), "actor", a.Actor)
	}
	return r.finish(ctx, err)
}

// sameRecord reports whether a and b are the same bytes: topic, key, value
// and headers in order.
func sameRecord(a, b codec.Record) bool {
	return a.Topic == b.Topic && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) &&
		slices.EqualFunc(a.Headers, b.Headers, func(x, y codec.Header) bool {
			return x.Key == y.Key && bytes.Equal(x.Value, y.Value)
		})
}
