package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
)

// Manager lists, shows, replays and purges dead letters. It is safe for
// concurrent use; it does not own the Log or the Admin.
type Manager struct {
	log   Log
	admin Admin
	cat   *catalog.Catalog
	clock Clock
	out   *slog.Logger
}

// Option configures a Manager.
type Option func(*Manager)

// WithClock sets the clock replays are paced by (default: the real one).
func WithClock(c Clock) Option { return func(m *Manager) { m.clock = c } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.out = l } }

// New returns a Manager over a Kafka transport and admin client.
func New(log Log, admin Admin, opts ...Option) (*Manager, error) {
	m := &Manager{log: log, admin: admin, clock: realClock{}}
	for _, o := range opts {
		o(m)
	}
	if m.out == nil {
		m.out = slog.Default()
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	m.cat = cat
	return m, nil
}

// ErrNotFound is returned by Show when no dead letter matches.
var ErrNotFound = errors.New("dlq: no dead letter matches")

// List returns the dead letters f matches, ordered by DLQ position. Resolved
// letters (replayed or purged) are left out unless all is set.
func (m *Manager) List(ctx context.Context, f Filter, all bool) ([]*Letter, error) {
	s, err := m.scan(ctx, f, false)
	if err != nil {
		return nil, err
	}
	return s.matching(m.cat, f, all), nil
}

// Show returns every dead letter id names, with its record's value,
// resolved or not.
func (m *Manager) Show(ctx context.Context, id ID) ([]*Letter, error) {
	f := Filter{IDs: []ID{id}}
	s, err := m.scan(ctx, f, true)
	if err != nil {
		return nil, err
	}
	out := s.matching(m.cat, f, true)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %s", ErrNotFound, id)
	}
	return out, nil
}

// scanned is what one read of the DLQ topics found.
type scanned struct {
	letters []*Letter        // every letter of those topics, by position
	starts  map[string]int64 // log start offset per DLQ partition ("topic/partition")
	ends    map[string]int64 // one past the last offset read per DLQ partition
	stale   []Position       // resolutions whose letter is gone
	logs    map[string]bool  // resolution logs that exist
}

// scan reads the resolution logs, then every dead letter of the topics f
// can match, and pairs them. With values, each letter keeps its record's
// value (Show, Replay); a listing drops it to save memory.
func (m *Manager) scan(ctx context.Context, f Filter, values bool) (*scanned, error) {
	topics, err := f.topics(m.cat)
	if err != nil {
		return nil, err
	}
	s := &scanned{ends: map[string]int64{}, logs: map[string]bool{}}
	names := make([]string, 0, 2*len(topics))
	for _, t := range topics {
		names = append(names, bus.DLQTopic(t), ResolvedTopic(bus.DLQTopic(t)))
	}
	// One metadata round trip says which DLQs and resolution logs exist and
	// where each DLQ partition starts.
	starts, err := m.admin.StartOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	s.starts = map[string]int64{}
	for topic, parts := range starts {
		for p, off := range parts {
			s.starts[Position{Topic: topic, Partition: p}.partitionKey()] = off
		}
	}
	var dlqs, resolved []string
	for _, t := range topics {
		d := bus.DLQTopic(t)
		if s.exists(d) {
			dlqs = append(dlqs, d)
		}
		if s.exists(ResolvedTopic(d)) {
			resolved = append(resolved, ResolvedTopic(d))
			s.logs[ResolvedTopic(d)] = true
		}
	}

	resolutions := map[string]*Resolution{}
	if len(resolved) > 0 {
		err := m.read(ctx, resolved, func(d *bus.Delivery) {
			key := string(d.Record.Key)
			if d.Record.Value == nil {
				delete(resolutions, key) // a tombstone
			} else {
				resolutions[key] = parseResolution(d.Record.Value)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("dlq: read the resolution logs: %w", err)
		}
	}
	if len(dlqs) > 0 {
		err := m.read(ctx, dlqs, func(d *bus.Delivery) {
			l := parseLetter(d, values)
			if r, ok := resolutions[l.ID]; ok {
				l.resolve(r)
			}
			s.letters = append(s.letters, l)
			s.ends[l.Position.partitionKey()] = l.Position.Offset + 1
		})
		if err != nil {
			return nil, fmt.Errorf("dlq: read the dead-letter topics: %w", err)
		}
	}
	slices.SortFunc(s.letters, func(a, b *Letter) int { return comparePositions(a.Position, b.Position) })

	// A resolution whose letter is below its partition's start (retention or
	// DeleteRecords took it) is garbage for the next write to remove.
	for key := range resolutions {
		pos, err := ParsePosition(key)
		if err != nil {
			continue // not ours; leave it
		}
		start, ok := s.starts[pos.partitionKey()]
		if !ok || pos.Offset < start {
			s.stale = append(s.stale, pos)
		}
	}
	slices.SortFunc(s.stale, comparePositions)
	return s, nil
}

// exists reports whether topic exists: every topic has a partition 0.
func (s *scanned) exists(topic string) bool {
	_, ok := s.starts[Position{Topic: topic}.partitionKey()]
	return ok
}

// read hands every record of topics, from the oldest to where they end
// now, to h.
func (m *Manager) read(ctx context.Context, topics []string, h func(*bus.Delivery)) error {
	return m.log.Read(ctx, kafka.ReadOptions{Topics: topics, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error {
			h(d)
			return nil
		})
}

// matching returns the letters f matches, resolved ones only with all.
func (s *scanned) matching(cat *catalog.Catalog, f Filter, all bool) []*Letter {
	var out []*Letter
	for _, l := range s.letters {
		if (all || l.Resolution == nil) && f.Match(cat, l) {
			out = append(out, l)
		}
	}
	return out
}

func comparePositions(a, b Position) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Partition, b.Partition); c != 0 {
		return c
	}
	return cmp.Compare(a.Offset, b.Offset)
}
